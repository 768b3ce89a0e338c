"""Scoring every replay method under one protocol: depth, novel views, surface, and metrics over time.

Each method renders each processed frame at its pose on the rectified left grid. Depth is scored on
frames with ground truth (all pixels and tissue region, :class:`DepthScoreboard`); colour on its
input frames ("train") and on the held-out frames ("held_out"), over all pixels and without
instrument pixels (:class:`ViewScores`). Methods with a mesh are scored against the ground-truth
cloud (accuracy, completeness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.config import EvaluationConfig
from stereo_nerf_core.eval.depth_metrics import DepthErrorAccumulator
from stereo_nerf_core.eval.image_metrics import psnr
from stereo_nerf_core.eval.novel_views import LpipsFunction, ViewScores
from stereo_nerf_core.eval.surface_metrics import SurfaceMetrics
from stereo_nerf_core.geometry.similarity import SimilarityTransform
from stereo_nerf_core.pipeline.evaluation import DepthScoreboard, EvaluatedFrame, ground_truth_cloud, score_surface
from stereo_nerf_core.pipeline.methods import ReplayMethod

TIMELINE_DEPTH_FRAMES = 3
"""Input frames (evenly spread over those seen so far) whose depth a timeline point scores."""
TIMELINE_VIEW_FRAMES = 1
"""Most recent held-out frames whose colour a timeline point scores."""


@dataclass
class MethodScores:
    """What scoring found for one method."""

    views: ViewScores
    surface: SurfaceMetrics | None = None
    mesh: o3d.geometry.TriangleMesh | None = None
    rendered: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def score_methods(
    methods: list[ReplayMethod],
    frames: list[EvaluatedFrame],
    K: NDArray[np.float64],
    size: tuple[int, int],
    *,
    scoreboard: DepthScoreboard,
    alignment: SimilarityTransform | None,
    figure_indices: set[int],
    lpips: tuple[LpipsFunction | None, str | None],
    announce: Callable[[str], None] | None = None,
    results: dict[str, MethodScores] | None = None,
) -> dict[str, MethodScores]:
    """Render and score every method on every frame; keeps the renders of ``figure_indices`` on the frames.

    ``announce`` (e.g. a print to stderr) is told which method is being scored. Each method's scores go
    into ``results`` (returned) as soon as it is done, so an interruption keeps the finished ones.
    """
    results = {} if results is None else results
    reference: NDArray[np.float64] | None = None
    for method in methods:
        if announce is not None:
            announce(f"scoring {method.name} on {len(frames)} frames")
        scores = MethodScores(ViewScores(*lpips))
        scores.mesh = method.mesh()
        if scores.mesh is not None and len(scores.mesh.triangles) > 0:
            reference = ground_truth_cloud(frames, K) if reference is None else reference
            scores.surface = score_surface(scores.mesh, frames, K, alignment, reference=reference)
        for frame in frames:
            rendering = method.render(frame, K, size)
            if rendering is None:
                continue
            scores.rendered += 1
            if frame.ground_truth is not None:
                scoreboard.add(method.name, rendering.depth, frame)
            split = "held_out" if frame.held_out else ("train" if frame.index in method.inputs else None)
            if rendering.rgb is not None and split is not None:
                regions = {"all": np.ones(frame.tissue.shape, bool), "no_instruments": frame.no_instruments}
                scores.views.add(split, rendering.rgb, frame.left.astype(np.float32) / 255.0, regions)
            if frame.index in figure_indices:
                frame.predictions[method.name] = rendering.depth
                if rendering.rgb is not None:
                    frame.views[method.name] = np.clip(np.rint(rendering.rgb * 255.0), 0, 255).astype(np.uint8)
        results[method.name] = scores
    return results


def timeline_point(
    methods: list[ReplayMethod],
    frames: list[EvaluatedFrame],
    K: NDArray[np.float64],
    size: tuple[int, int],
    evaluation: EvaluationConfig,
) -> dict[str, Any]:
    """Scores of every method now, on a few probe frames seen so far (metrics over time).

    Depth: tissue abs_rel pooled over up to :data:`TIMELINE_DEPTH_FRAMES` input frames with ground
    truth, evenly spread over those seen so far. Colour: mean PSNR (dB, instrument pixels left out)
    of up to :data:`TIMELINE_VIEW_FRAMES` most recent held-out frames.
    """
    inputs = [f for f in frames if not f.held_out and f.ground_truth is not None and f.T_world_camera is not None]
    held = [f for f in frames if f.held_out and f.T_world_camera is not None][-TIMELINE_VIEW_FRAMES:]
    if inputs:
        picks = np.unique(np.linspace(0, len(inputs) - 1, min(TIMELINE_DEPTH_FRAMES, len(inputs))).round())
        inputs = [inputs[int(i)] for i in picks]
    point: dict[str, Any] = {"frames": len(frames), "methods": {}}
    for method in methods:
        accumulator = DepthErrorAccumulator(min_depth_m=evaluation.min_depth_m, max_depth_m=evaluation.max_depth_m)
        for frame in inputs:
            rendering = method.render(frame, K, size)
            if rendering is not None and frame.ground_truth is not None:
                accumulator.add(rendering.depth, frame.ground_truth, frame.tissue)
        values = []
        for frame in held:
            rendering = method.render(frame, K, size)
            if rendering is not None and rendering.rgb is not None:
                values.append(psnr(rendering.rgb, frame.left.astype(np.float32) / 255.0, mask=frame.no_instruments))
        depth = accumulator.result() if accumulator.n_frames else None
        point["methods"][method.name] = {
            "inputs": len(method.inputs),
            "tissue_abs_rel": None if depth is None or depth.n_evaluated == 0 else depth.abs_rel,
            "held_out_psnr_db": float(np.mean(values)) if values else None,
        }
    return point
