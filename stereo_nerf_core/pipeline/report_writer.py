"""Finishing a replay: every method scored, meshes, figures, metrics.json and report.md."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from stereo_nerf_core import __version__
from stereo_nerf_core.config import flatten_parameters
from stereo_nerf_core.eval.novel_views import load_lpips
from stereo_nerf_core.eval.report import write_report
from stereo_nerf_core.fusion.tsdf import mesh_point_cloud
from stereo_nerf_core.geometry.similarity import SimilarityTransform
from stereo_nerf_core.pipeline.evaluation import score_trajectory
from stereo_nerf_core.pipeline.outputs import write_cloud, write_mesh, write_metrics
from stereo_nerf_core.pipeline.replay_figures import figure_frames, replay_figures
from stereo_nerf_core.pipeline.scoring import MethodScores, score_methods
from stereo_nerf_core.pipeline.timing import peak_memory

if TYPE_CHECKING:
    from stereo_nerf_core.pipeline.replay import ReplayState

SHARED_STAGES = ("rectify", "depth_prior", "tracking")
"""Stages every method relies on (the front-end); listed in ``stage_timings``, counted in ``stereo_prior``."""


def write_replay_outputs(state: ReplayState) -> dict[str, Any]:
    """Write every output of ``state`` (complete or partial) and return the metrics document."""
    trajectory, alignment = _trajectory(state)
    scores: dict[str, MethodScores] = {}
    picks = figure_frames(state.frames, state.config.evaluation.figure_frames)
    if state.calibration is not None and state.scoreboard is not None:
        K, size = state.calibration.K_rect, state.calibration.size
        try:
            with state.timer.stage("evaluation"):
                score_methods(
                    state.methods, state.frames, K, size, scoreboard=state.scoreboard, alignment=alignment,
                    figure_indices={frame.index for frame in picks}, lpips=load_lpips(),
                    announce=_announce if state.progress else None, results=scores,
                )
        except KeyboardInterrupt:
            state.interrupted = True
            unscored = [method.name for method in state.methods if method.name not in scores]
            state.notes.append(f"Scoring was interrupted: {', '.join(unscored)} not (fully) scored.")
    for method in state.methods:
        state.notes.extend(method.notes)
        mesh = scores[method.name].mesh if method.name in scores else None
        if mesh is not None and len(mesh.triangles) > 0:
            write_mesh(state.out_dir / method.mesh_file, mesh)
            if method.mesh_file == "fused_mesh.ply":
                write_cloud(state.out_dir / "fused_cloud.ply", mesh_point_cloud(mesh))
    methods = _methods(state, scores)
    figures = replay_figures(state, picks, scores, alignment)
    document = {
        "stereo_nerf_version": __version__,
        "bag": str(state.bag),
        "complete": not state.interrupted and state.error is None,
        "interrupted": state.interrupted,
        "error": state.error,
        "wall_seconds": round(state.wall_seconds, 3),
        "rate": state.rate,
        "frames": {
            "processed": state.processed,
            "evaluated": sum(1 for frame in state.frames if frame.ground_truth is not None),
            "held_out": [frame.index for frame in state.frames if frame.held_out],
            **state.stream,
            "dropped_by_rate": len(state.dropped_by_rate),
            "skipped_frames": state.skipped_frames,
        },
        "protocol": _protocol(state),
        "methods": methods,
        "trajectory": trajectory,
        "timeline": state.timeline,
        "stage_timings": state.timer.summary(),
        "resources": peak_memory(),
        "parameters": flatten_parameters(state.config),
        "figures": [path for _, path in figures],
        "meshes": {
            method.name: method.mesh_file for method in state.methods if (state.out_dir / method.mesh_file).exists()
        },
        "notes": list(state.notes),
    }
    write_metrics(state.out_dir / "metrics.json", document)
    write_report(
        state.out_dir / "report.md",
        title=f"stereo_nerf replay of {state.bag.name}",
        methods=methods,
        figures=figures,
        notes=_notes(state, document),
        timeline=state.timeline,
    )
    return document


def _announce(text: str) -> None:
    print(f"replay: {text} ...", file=sys.stderr, flush=True)


def _trajectory(state: ReplayState) -> tuple[dict[str, Any], SimilarityTransform | None]:
    """Pose source, lost frames and, with ground truth, ATE/RPE and the alignment into the truth's world."""
    source = state.config.tracking.pose_source
    lost = state.poses.lost if state.poses is not None else 0
    summary: dict[str, Any] = {"pose_source": source, "frames_without_pose": sum(
        1 for _, pose in state.trajectory if pose.T_world_camera is None
    ), "tracking_lost": lost}
    pairs = [
        (pose.T_world_camera, pose.T_world_camera_truth)
        for _, pose in state.trajectory
        if pose.T_world_camera is not None and pose.T_world_camera_truth is not None
    ]
    scored = score_trajectory([a for a, _ in pairs], [b for _, b in pairs])
    if scored is None:
        return summary, None
    errors, alignment = scored
    summary.update(errors)
    summary["T_truth_world"] = alignment.matrix().tolist()  # maps the outputs' world into the ground truth's
    return summary, alignment


def _methods(state: ReplayState, scores: dict[str, MethodScores]) -> dict[str, dict[str, Any]]:
    depth = state.scoreboard.results() if state.scoreboard is not None else {}
    timings = state.timer.summary()
    methods: dict[str, dict[str, Any]] = {}
    for method in state.methods:
        entry: dict[str, Any] = {"inputs": len(method.inputs)}
        if method.name in depth:
            entry["depth"] = {region: metrics.as_dict() for region, metrics in depth[method.name].items()}
        views = scores[method.name].views.results() if method.name in scores else {}
        if views:
            entry["novel_views"] = views
        stages = SHARED_STAGES[:2] if method.name == "stereo_prior" else method.stages
        seconds = sum(timings[stage]["seconds"] for stage in stages if stage in timings)
        frames = state.processed if method.name == "stereo_prior" else method.frames
        if seconds > 0:
            entry["timing"] = {
                "seconds": round(seconds, 3),
                "frames": frames,
                "fps": round(frames / seconds, 3),
                "stages": [stage for stage in stages if stage in timings],
                **{f"peak_{key}": value for key, value in method.memory.items()},
            }
        surface = scores[method.name].surface if method.name in scores else None
        if surface is not None:
            entry["surface"] = surface.as_dict()
        steps = getattr(method, "steps", None)
        if steps is not None:
            entry["training"] = {"steps": steps, "seconds": round(getattr(method, "train_seconds", 0.0), 3)}
        methods[method.name] = entry
    return methods


def _trajectory_note(trajectory: dict[str, Any]) -> str:
    source = {"odometry": "stereo visual odometry", "tf": "/tf", "ground_truth": "ground truth (oracle)"}
    text = f"Camera poses: {source.get(trajectory['pose_source'], trajectory['pose_source'])}"
    if "ate" in trajectory:
        ate, rpe = trajectory["ate"], trajectory["rpe"]
        text += (
            f"; against ground truth over {trajectory['frames']} frames: ATE RMSE {1000 * ate['rmse_m']:.3f} mm "
            f"(rigid alignment), RPE {1000 * rpe['translation_rmse_m']:.3f} mm and "
            f"{rpe['rotation_rmse_deg']:.3f} deg per frame"
        )
    if trajectory["frames_without_pose"]:
        text += f"; {trajectory['frames_without_pose']} frames had no pose and were not fused"
    return text + "."


def _protocol(state: ReplayState) -> dict[str, Any]:
    evaluation = state.config.evaluation
    return {
        "depth_units": "metres",
        "min_depth_m": evaluation.min_depth_m,
        "max_depth_m": evaluation.max_depth_m,
        "median_scaling": evaluation.median_scaling,
        "grid": "rectified left image; ground truth moved there with the calibration",
        "tissue_region": "valid ground truth minus instrument mask and specular highlights",
        "held_out": (
            "the bag's test list" if state.held_out_stamps is not None
            else f"every {state.config.replay.held_out_every}th frame from frame 0"
        ),
        "novel_views": "PSNR (dB), SSIM (kornia, 11 px Gaussian window), LPIPS (AlexNet) of RGB in [0, 1] on the "
        "rectified left grid, mean over frames; regions: all pixels and no_instruments",
    }


def _notes(state: ReplayState, document: dict[str, Any]) -> list[str]:
    evaluation = state.config.evaluation
    frames = document["frames"]
    notes = [
        f"Depth is metric, scored on the rectified left grid; ground truth beyond {evaluation.max_depth_m} m "
        f"is ignored and predictions are clipped to [{evaluation.min_depth_m}, {evaluation.max_depth_m}] m.",
        "Median scaling: " + ("ON (scores are scale-corrected)." if evaluation.median_scaling else "off."),
        "Coverage is the share of valid ground-truth pixels that received a depth.",
        "Tissue region: instrument pixels (instrument mask) and specular highlights "
        "(bright, unsaturated pixels) are left out.",
        "Methods: stereo_prior is each frame's own dense prior; tsdf_fusion fuses the priors of the input "
        "frames and its depth and colour are the fused mesh ray-cast at each pose; nerf and sdf train the "
        "online trainer on keyframes of the input frames "
        f"(every {state.config.replay.keyframe_every}th, at 1/{state.config.replay.train_downscale} "
        f"resolution, {state.config.replay.train_steps} steps or {state.config.replay.train_seconds:g} s) and "
        "render depth and colour at the keyframe resolution, resized onto the full grid (input frames guided "
        "by their own prior; held-out frames by the model's own depth of the nearest input frame warped into "
        "the held-out pose, never by the held-out frame itself).",
        f"Held-out frames ({len(frames['held_out'])}: {document['protocol']['held_out']}) are neither fused nor "
        "trained on; stereo_prior renders them by forward-warping the nearest input frame's colour through its "
        "prior depth (z-buffered splat, unfilled pixels black and scored).",
        "Novel views: PSNR (dB), SSIM and LPIPS against the recorded left image, mean over frames, on every "
        "pixel and without instrument pixels; 'train' views are each method's own input frames "
        "(stereo_prior has none: its input image is its view).",
        "Surface accuracy: median distance from mesh vertices to the ground-truth cloud; completeness the "
        "reverse (meshes in the pipeline's world, aligned to the ground truth with the trajectory alignment).",
        f"Frames: {frames['processed']} pairs processed, {frames.get('dropped_left', 0)} left and "
        f"{frames.get('dropped_right', 0)} right images dropped by the synchroniser"
        + (
            f", {frames['dropped_by_rate']} dropped by recorded-rate playback (rate {state.rate:g})."
            if state.rate is not None else " (replayed as fast as possible)."
        ),
        "Compute cost: seconds of each method's own stages (stereo_prior: rectify and depth_prior; "
        "tsdf_fusion: fusion and mesh; nerf/sdf: keyframes, training and mesh; renders for scoring are "
        "not counted), frames it consumed per second, and the process's peak resident memory (and CUDA "
        "peak) when the method finished: methods share one process, so memory is cumulative.",
    ]
    notes.append(_trajectory_note(document["trajectory"]))
    if state.interrupted:
        notes.append("PARTIAL: the replay was interrupted; these results cover the frames processed so far.")
    if state.error:
        notes.append(f"PARTIAL: the bag could not be read to the end: {state.error}")
    notes.extend(dict.fromkeys(state.notes))
    notes.extend(f"Skipped: {problem}" for problem in state.skipped_frames[:10])
    return notes
