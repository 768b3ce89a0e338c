"""Scoring what the live graph published against a bag's ground truth, and against the offline replay.

The integration test and ``benchmarks/live_graph.py`` record the depth images and poses the nodes
publish (by stamp); :func:`bag_truth` reads the same frames of the bag with the replay's own reader, and
the scores use the replay's protocol: tissue abs_rel on the rectified left grid (instruments and specular
highlights left out, ``evaluation`` depth cap) and ATE after a rigid alignment. :func:`replay_depth`
computes the replay's prior of the same frames, so the live figure has the offline one to be held to.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.eval.depth_metrics import DepthErrorAccumulator, DepthMetrics
from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.trajectory import AbsoluteTrajectoryError, absolute_trajectory_error
from stereo_nerf_core.frontend.masks import specular_mask
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.spine.frames import FrameAssembler, StereoFrame
from stereo_nerf_core.spine.stages import StereoDepthStage

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class TruthFrame:
    """One frame of a bag with what it is scored against, on the rectified left grid."""

    stamp_ns: int
    calibration: StereoCalibration
    left: NDArray[np.uint8]
    """(H, W, 3) rectified left image."""
    right: NDArray[np.uint8]
    depth: NDArray[np.float32] | None
    """(H, W) ground-truth Z of the rectified frame in metres, NaN where none."""
    tissue: NDArray[np.bool_]
    """(H, W) pixels that are neither instrument nor specular highlight."""
    T_world_rect: F64 | None
    """(4, 4) ground-truth pose of the rectified left camera."""


def bag_truth(bag: Path | str, config: PipelineConfig, *, max_frames: int | None = None) -> Iterator[TruthFrame]:
    """The bag's first ``max_frames`` frames (all when None) with their ground truth, read as the replay reads."""
    assembler = FrameAssembler(config.sync, tracking=config.tracking)
    stage = StereoDepthStage(config.depth_prior)
    for frame in assembler.frames_from_bag(bag, max_frames=max_frames):
        calibration, left, right = stage.rectify_frame(frame)
        yield _truth(frame, calibration, left, right)


def _truth(
    frame: StereoFrame, calibration: StereoCalibration, left: NDArray[np.uint8], right: NDArray[np.uint8]
) -> TruthFrame:
    instrument = np.zeros(left.shape[:2], bool)
    if frame.instrument_mask is not None:
        instrument = calibration.rectify_left_nearest(frame.instrument_mask.astype(np.uint8)) > 0
    depth = None if frame.ground_truth_depth is None else rectify_left_depth(calibration, frame.ground_truth_depth)
    pose = None if frame.T_world_left_truth is None else frame.T_world_left_truth @ calibration.T_raw_rect
    return TruthFrame(frame.stamp_ns, calibration, left, right, depth, ~instrument & ~specular_mask(left), pose)


def tissue_depth_score(
    truth: list[TruthFrame], depths: Mapping[int, NDArray[np.floating]], config: PipelineConfig
) -> DepthMetrics:
    """Pooled tissue metrics of the depth maps (by stamp, NaN or 0 = none) over the frames with ground truth."""
    evaluation = config.evaluation
    pooled = DepthErrorAccumulator(
        min_depth_m=evaluation.min_depth_m, max_depth_m=evaluation.max_depth_m, median_scaling=evaluation.median_scaling
    )
    for frame in truth:
        if frame.depth is not None and frame.stamp_ns in depths:
            predicted = np.nan_to_num(np.asarray(depths[frame.stamp_ns], np.float32), nan=0.0)
            pooled.add(predicted, frame.depth, frame.tissue)
    if pooled.n_frames == 0:
        raise EvaluationError("no depth map was published for a frame with ground truth")
    return pooled.result()


def replay_depth(truth: list[TruthFrame], config: PipelineConfig) -> dict[int, NDArray[np.float32]]:
    """The offline replay's depth prior of each frame (the same stage, frames in order)."""
    stage = StereoDepthStage(config.depth_prior)
    depths = {}
    for frame in truth:
        depths[frame.stamp_ns] = stage.estimate_prior(frame.left, frame.right, frame.calibration).depth
    return depths


def pose_score(truth: list[TruthFrame], poses: Mapping[int, F64]) -> AbsoluteTrajectoryError:
    """ATE (rigid alignment) of the poses (by stamp) against the ground truth of the same frames."""
    pairs = [(poses[f.stamp_ns], f.T_world_rect) for f in truth if f.stamp_ns in poses and f.T_world_rect is not None]
    if len(pairs) < 3:
        raise EvaluationError(f"{len(pairs)} poses with ground truth: at least 3 are needed for an ATE")
    return absolute_trajectory_error(np.stack([p for p, _ in pairs]), np.stack([t for _, t in pairs]))
