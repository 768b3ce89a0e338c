"""Scoring a replay against the bag's ground truth: depth per method and region, and the fused surface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.config import EvaluationConfig
from stereo_nerf_core.eval.depth_metrics import DepthErrorAccumulator, DepthMetrics
from stereo_nerf_core.eval.surface_metrics import SurfaceMetrics, surface_metrics
from stereo_nerf_core.eval.trajectory import absolute_trajectory_error, relative_pose_error
from stereo_nerf_core.geometry.depth_maps import backproject
from stereo_nerf_core.geometry.similarity import SimilarityTransform, align_poses

REGIONS = ("all", "tissue")
GROUND_TRUTH_VOXEL_M = 0.00025
"""Ground-truth clouds are thinned to this spacing before surface scoring."""


@dataclass(frozen=True)
class EvaluatedFrame:
    """What later scoring needs of one frame, on the rectified left grid."""

    index: int
    stamp_ns: int
    left: NDArray[np.uint8]
    """(H, W, 3) rectified left image, RGB."""
    ground_truth: NDArray[np.float32] | None
    """(H, W) metres, NaN where none; None when the frame has no ground-truth depth."""
    tissue: NDArray[np.bool_]
    """(H, W) tissue region: not instrument, not specular."""
    T_world_camera: NDArray[np.float64] | None
    """(4, 4) the pipeline's pose of the rectified left camera (None: no pose, not fused)."""
    T_world_camera_truth: NDArray[np.float64] | None = None
    """(4, 4) ground-truth pose of the rectified left camera, when the input has it."""
    instrument: NDArray[np.bool_] | None = None
    """(H, W) instrument pixels (None: no mask, no instrument)."""
    held_out: bool = False
    """Held out: no method fuses or trains on it; it is rendered as a novel view."""
    predictions: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    """Depth (H, W, metres) of each scored method, kept for figures (figure frames only)."""
    views: dict[str, NDArray[np.uint8]] = field(default_factory=dict)
    """Colour (H, W, 3) each method rendered, kept for figures (figure frames only)."""

    @property
    def no_instruments(self) -> NDArray[np.bool_]:
        """(H, W) pixels that are not instrument."""
        return np.ones(self.tissue.shape, bool) if self.instrument is None else ~self.instrument


class DepthScoreboard:
    """Pooled depth metrics per method and region under one protocol."""

    def __init__(self, config: EvaluationConfig) -> None:
        self.config = config
        self.accumulators: dict[str, dict[str, DepthErrorAccumulator]] = {}

    def add(self, method: str, depth: NDArray[np.floating], frame: EvaluatedFrame) -> None:
        """Score one predicted depth map (H, W, metres; 0 or NaN = none) of ``frame`` (which has ground truth)."""
        assert frame.ground_truth is not None
        regions = self.accumulators.setdefault(method, {region: self._accumulator() for region in REGIONS})
        regions["all"].add(depth, frame.ground_truth, None)
        regions["tissue"].add(depth, frame.ground_truth, frame.tissue)

    def results(self) -> dict[str, dict[str, DepthMetrics]]:
        """``{method: {region: DepthMetrics}}``."""
        return {
            method: {region: accumulator.result() for region, accumulator in regions.items()}
            for method, regions in self.accumulators.items()
        }

    def _accumulator(self) -> DepthErrorAccumulator:
        return DepthErrorAccumulator(
            min_depth_m=self.config.min_depth_m,
            max_depth_m=self.config.max_depth_m,
            median_scaling=self.config.median_scaling,
        )


def ground_truth_cloud(frames: list[EvaluatedFrame], K: NDArray[np.float64]) -> NDArray[np.float64]:
    """World points (N, 3) of every frame's tissue ground truth, thinned to a voxel grid."""
    chunks = []
    for frame in frames:
        if frame.T_world_camera_truth is None or frame.ground_truth is None:
            continue
        keep = frame.tissue & np.isfinite(frame.ground_truth)
        points = backproject(np.nan_to_num(frame.ground_truth), K)[keep].astype(np.float64)
        T = frame.T_world_camera_truth
        chunks.append(points @ T[:3, :3].T + T[:3, 3])
    if not chunks:
        return np.zeros((0, 3))
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.concatenate(chunks)))
    return np.asarray(cloud.voxel_down_sample(GROUND_TRUTH_VOXEL_M).points)


def score_surface(
    mesh: o3d.geometry.TriangleMesh,
    frames: list[EvaluatedFrame],
    K: NDArray[np.float64],
    alignment: SimilarityTransform | None,
    *,
    reference: NDArray[np.float64] | None = None,
) -> SurfaceMetrics | None:
    """Accuracy and completeness of a fused mesh against the ground-truth cloud; None without one.

    ``alignment`` maps the pipeline's world (odometry starts at identity) into the ground truth's;
    ``reference`` is :func:`ground_truth_cloud` of ``frames`` when already computed.
    """
    if reference is None:
        reference = ground_truth_cloud(frames, K)
    vertices = np.asarray(mesh.vertices)
    if alignment is not None and len(vertices):
        vertices = alignment.apply_points(vertices)
    if len(reference) == 0 or len(vertices) == 0:
        return None
    return surface_metrics(vertices, reference)


def score_trajectory(
    estimated: list[NDArray[np.float64]], truth: list[NDArray[np.float64]]
) -> tuple[dict[str, Any], SimilarityTransform] | None:
    """ATE (rigid alignment: stereo is metric) and per-frame RPE of paired poses; None below 3 pairs.

    The returned alignment uses orientations as well as positions: positions alone leave the
    rotation about a short, nearly straight path free, which would tilt surfaces far from it.
    """
    if len(estimated) < 3:
        return None
    ate = absolute_trajectory_error(np.stack(estimated), np.stack(truth), with_scale=False)
    rpe = relative_pose_error(np.stack(estimated), np.stack(truth), delta=1)
    alignment = align_poses(np.stack(estimated), np.stack(truth), with_scale=False)
    return {"frames": len(estimated), "ate": ate.as_dict(), "rpe": rpe.as_dict()}, alignment
