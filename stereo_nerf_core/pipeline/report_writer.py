"""Finishing a replay: fused surface, method scores, figures, metrics.json and report.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from stereo_nerf_core import __version__
from stereo_nerf_core.config import flatten_parameters
from stereo_nerf_core.eval.figures import depth_comparison_figure
from stereo_nerf_core.eval.report import write_report
from stereo_nerf_core.eval.trajectory import SimilarityTransform
from stereo_nerf_core.fusion.tsdf import MeshRaycaster, mesh_point_cloud
from stereo_nerf_core.pipeline.evaluation import score_surface, score_trajectory
from stereo_nerf_core.pipeline.outputs import write_cloud, write_mesh, write_metrics

if TYPE_CHECKING:
    from stereo_nerf_core.pipeline.replay import ReplayState

FIGURE_MAX_ERROR_MM = 5.0
"""Every figure's error map uses this colour scale, so methods compare by eye."""
METHOD_STAGES = {"stereo_prior": ("rectify", "depth_prior"), "tsdf_fusion": ("tracking", "fusion", "fusion_mesh")}


def write_replay_outputs(state: ReplayState) -> dict[str, Any]:
    """Write every output of ``state`` (complete or partial) and return the metrics document."""
    trajectory, alignment = _trajectory(state)
    surface = None
    if state.fusion is not None and state.fusion.frames > 0 and state.calibration is not None:
        with state.timer.stage("fusion_mesh"):
            mesh = state.fusion.mesh()
        if len(mesh.triangles) == 0:
            state.notes.append(
                f"The fused surface is empty: no voxel reached fusion.min_weight = {state.config.fusion.min_weight} "
                f"observations in {state.fusion.frames} fused frames."
            )
        else:
            write_mesh(state.out_dir / "fused_mesh.ply", mesh)
            write_cloud(state.out_dir / "fused_cloud.ply", mesh_point_cloud(mesh))
        K, size = state.calibration.K_rect, state.calibration.size
        with state.timer.stage("evaluation"):
            raycaster = MeshRaycaster(mesh)
            for frame in state.frames:
                if frame.T_world_camera is not None and state.scoreboard is not None:
                    rendered, _ = raycaster.cast(K, size, frame.T_world_camera)
                    frame.predictions["tsdf_fusion"] = rendered
                    state.scoreboard.add("tsdf_fusion", rendered, frame)
            surface = score_surface(mesh, state.frames, K, alignment)
    methods = _methods(state, surface)
    figures = _figures(state)
    document = {
        "stereo_nerf_version": __version__,
        "bag": str(state.bag),
        "complete": not state.interrupted and state.error is None,
        "interrupted": state.interrupted,
        "error": state.error,
        "wall_seconds": round(state.wall_seconds, 3),
        "frames": {
            "processed": state.processed,
            "evaluated": len(state.frames),
            **state.stream,
            "skipped_frames": state.skipped_frames,
        },
        "protocol": _protocol(state),
        "methods": methods,
        "trajectory": trajectory,
        "stage_timings": state.timer.summary(),
        "parameters": flatten_parameters(state.config),
        "figures": [path for _, path in figures],
        "notes": list(state.notes),
    }
    write_metrics(state.out_dir / "metrics.json", document)
    write_report(
        state.out_dir / "report.md",
        title=f"stereo_nerf replay of {state.bag.name}",
        methods=methods,
        figures=figures,
        notes=_notes(state, document),
    )
    return document


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


def _methods(state: ReplayState, surface: Any) -> dict[str, dict[str, Any]]:
    scores = state.scoreboard.results() if state.scoreboard is not None else {}
    timings = state.timer.summary()
    methods: dict[str, dict[str, Any]] = {}
    for method, stages in METHOD_STAGES.items():
        entry: dict[str, Any] = {}
        if method in scores:
            entry["depth"] = {region: metrics.as_dict() for region, metrics in scores[method].items()}
        seconds = sum(timings[stage]["seconds"] for stage in stages if stage in timings)
        if seconds > 0:
            frames = state.processed if method == "stereo_prior" else (state.fusion.frames if state.fusion else 0)
            entry["timing"] = {"seconds": round(seconds, 3), "frames": frames, "fps": round(frames / seconds, 3)}
        if method == "tsdf_fusion" and surface is not None:
            entry["surface"] = surface.as_dict()
        if entry:
            methods[method] = entry
    return methods


def _figures(state: ReplayState) -> list[tuple[str, str]]:
    count = state.config.evaluation.figure_frames
    if not state.frames or count == 0:
        return []
    picks = np.unique(np.linspace(0, len(state.frames) - 1, count).round().astype(int))
    figures = []
    (state.out_dir / "figures").mkdir(exist_ok=True)
    for pick in picks:
        frame = state.frames[int(pick)]
        depth_range = _depth_range(frame.ground_truth)
        for method, depth in frame.predictions.items():
            relative = f"figures/{method}_frame{frame.index:05d}.png"
            depth_comparison_figure(
                state.out_dir / relative,
                frame.left,
                depth,
                frame.ground_truth,
                title=f"{method}, frame {frame.index}",
                max_depth_m=state.config.evaluation.max_depth_m,
                depth_range_m=depth_range,
                max_error_mm=FIGURE_MAX_ERROR_MM,
            )
            figures.append((f"{method}, frame {frame.index} (left | depth | ground truth | error)", relative))
    return figures


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


def _depth_range(truth: np.ndarray) -> tuple[float, float] | None:
    """Colour range (metres) of a depth figure: the truth's 1st-99th percentiles, at least 1 mm wide."""
    values = truth[np.isfinite(truth)]
    if values.size == 0:
        return None
    low, high = float(np.percentile(values, 1)), float(np.percentile(values, 99))
    middle = 0.5 * (low + high)
    return (min(low, middle - 0.0005), max(high, middle + 0.0005))


def _protocol(state: ReplayState) -> dict[str, Any]:
    evaluation = state.config.evaluation
    return {
        "depth_units": "metres",
        "min_depth_m": evaluation.min_depth_m,
        "max_depth_m": evaluation.max_depth_m,
        "median_scaling": evaluation.median_scaling,
        "grid": "rectified left image; ground truth moved there with the calibration",
        "tissue_region": "valid ground truth minus instrument mask and specular highlights",
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
        "tsdf_fusion depth is the fused mesh ray-cast at each frame's pose; its surface accuracy is the "
        "median distance from mesh vertices to the ground-truth cloud, completeness the reverse.",
        f"Frames: {frames['processed']} pairs processed, {frames.get('dropped_left', 0)} left and "
        f"{frames.get('dropped_right', 0)} right images dropped by the synchroniser.",
    ]
    notes.append(_trajectory_note(document["trajectory"]))
    if state.interrupted:
        notes.append("PARTIAL: the replay was interrupted; these results cover the frames processed so far.")
    if state.error:
        notes.append(f"PARTIAL: the bag could not be read to the end: {state.error}")
    notes.extend(state.notes)
    notes.extend(f"Skipped: {problem}" for problem in state.skipped_frames[:10])
    return notes
