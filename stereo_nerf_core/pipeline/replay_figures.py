"""The replay report's figures: depth and error maps, novel views, trajectory, metrics over time, turntable."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.eval.figures import depth_comparison_figure
from stereo_nerf_core.eval.image_metrics import psnr
from stereo_nerf_core.eval.plots import novel_view_figure, timeline_figure, trajectory_figure, turntable_figure
from stereo_nerf_core.geometry.similarity import SimilarityTransform
from stereo_nerf_core.pipeline.evaluation import EvaluatedFrame
from stereo_nerf_core.pipeline.scoring import MethodScores

if TYPE_CHECKING:
    from stereo_nerf_core.pipeline.replay import ReplayState

FIGURE_MAX_ERROR_MM = 5.0
"""Every figure's error map uses this colour scale, so methods compare by eye."""
TURNTABLE_SIZE = (160, 128)
"""(width, height) of each turntable view."""


def _spread(frames: list[EvaluatedFrame], count: int) -> list[EvaluatedFrame]:
    if not frames or count <= 0:
        return []
    picks = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    return [frames[int(i)] for i in picks]


def figure_frames(frames: list[EvaluatedFrame], count: int) -> list[EvaluatedFrame]:
    """``count`` input frames with ground truth and ``count`` held-out frames, each evenly spread."""
    inputs = _spread([f for f in frames if f.ground_truth is not None and not f.held_out], count)
    held = _spread([f for f in frames if f.held_out and f.T_world_camera is not None], count)
    return inputs + held


def replay_figures(
    state: ReplayState,
    picks: list[EvaluatedFrame],
    scores: dict[str, MethodScores],
    alignment: SimilarityTransform | None,
) -> list[tuple[str, str]]:
    """Write every figure into ``<out>/figures``; returns ``(caption, relative path)`` pairs."""
    (state.out_dir / "figures").mkdir(exist_ok=True)
    figures = _depth_figures(state, picks) + _view_figures(state, picks)
    figures += _trajectory_figure(state, alignment)
    if state.timeline and any(point["methods"] for point in state.timeline):
        relative = "figures/metrics_over_time.png"
        timeline_figure(state.out_dir / relative, state.timeline, title="quality as frames arrive")
        figures.append(("metrics over time: tissue abs_rel and held-out PSNR (dB) vs frames arrived", relative))
    meshes = {name: s.mesh for name, s in scores.items() if s.mesh is not None and len(s.mesh.triangles) > 0}
    views = state.config.replay.turntable_views
    posed = [f for f in state.frames if f.T_world_camera is not None]
    if meshes and views > 0 and posed and state.calibration is not None:
        relative = "figures/turntable.png"
        width, height = TURNTABLE_SIZE
        K = state.calibration.rectified_scaled(width, height).K_rect
        reference = posed[len(posed) // 2].T_world_camera
        assert reference is not None
        turntable_figure(state.out_dir / relative, meshes, K, TURNTABLE_SIZE, reference, views=views)
        figures.append(("turntable: each method's mesh (PLY in the output folder), shaded", relative))
    return figures


def _depth_figures(state: ReplayState, picks: list[EvaluatedFrame]) -> list[tuple[str, str]]:
    figures = []
    for frame in picks:
        if frame.ground_truth is None or frame.held_out:  # held-out frames get the novel-view figure
            continue
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
            figures.append((f"{method}, frame {frame.index}: left | depth | ground truth | error (mm)", relative))
    return figures


def _view_figures(state: ReplayState, picks: list[EvaluatedFrame]) -> list[tuple[str, str]]:
    figures = []
    for frame in picks:
        if not frame.held_out or not frame.views:
            continue
        truth = frame.left.astype(np.float32) / 255.0
        renders = []
        for method, image in frame.views.items():
            value = psnr(image.astype(np.float32) / 255.0, truth, mask=frame.no_instruments)
            renders.append((f"{method}: PSNR {value:.1f} dB", image))
        relative = f"figures/novel_view_frame{frame.index:05d}.png"
        novel_view_figure(
            state.out_dir / relative, frame.left, renders, title=f"held-out frame {frame.index}: rendered vs recorded"
        )
        figures.append((f"held-out frame {frame.index}: each method's render (PSNR without instruments)", relative))
    return figures


def _trajectory_figure(state: ReplayState, alignment: SimilarityTransform | None) -> list[tuple[str, str]]:
    pairs = [(p.T_world_camera, p.T_world_camera_truth) for _, p in state.trajectory if p.T_world_camera is not None]
    if len(pairs) < 2:
        return []
    estimated = np.stack([T[:3, 3] for T, _ in pairs])
    truths = [T for _, T in pairs if T is not None]
    truth = np.stack([T[:3, 3] for T in truths]) if len(truths) == len(pairs) else None
    if alignment is not None:
        estimated = alignment.apply_points(estimated)
    relative = "figures/trajectory.png"
    source = state.config.tracking.pose_source
    title = f"camera positions: {source}" + (" (aligned) vs ground truth" if truth is not None else "")
    trajectory_figure(state.out_dir / relative, estimated, truth, title=title)
    return [("trajectory, top and side views (mm)", relative)]


def _depth_range(truth: NDArray[np.float32]) -> tuple[float, float] | None:
    """Colour range (metres) of a depth figure: the truth's 1st-99th percentiles, at least 1 mm wide."""
    values = truth[np.isfinite(truth)]
    if values.size == 0:
        return None
    low, high = float(np.percentile(values, 1)), float(np.percentile(values, 99))
    middle = 0.5 * (low + high)
    return (min(low, middle - 0.0005), max(high, middle + 0.0005))
