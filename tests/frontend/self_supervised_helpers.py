"""Rectified frames of the sample bag with their rectified ground-truth depth, for the self-supervised tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.eval.specular import specular_mask
from stereo_nerf_core.frontend.self_supervised.training import StreamFrame
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.spine.frames import FrameAssembler
from stereo_nerf_core.spine.stages import StereoDepthStage
from tests.conftest import SAMPLE_BAG


@dataclass(frozen=True)
class TruthFrame:
    """A stream frame (ground-truth pose) and its ground truth on the rectified left grid."""

    frame: StreamFrame
    depth: NDArray[np.float32]
    """(H, W) metres, NaN where none."""
    tissue: NDArray[np.bool_]
    """(H, W) not instrument, not specular."""


def sample_truth_frames(count: int) -> list[TruthFrame]:
    """The first ``count`` frames of the sample bag."""
    config = PipelineConfig()
    stage = StereoDepthStage(config.depth_prior)
    result = []
    for raw in FrameAssembler(config.sync).frames_from_bag(SAMPLE_BAG):
        if raw.index >= count:
            break
        assert raw.ground_truth_depth is not None and raw.T_world_left_truth is not None
        calibration, left, right = stage.rectify_frame(raw)
        instrument = np.zeros(left.shape[:2], bool)
        if raw.instrument_mask is not None:
            instrument = calibration.rectify_left_nearest(raw.instrument_mask.astype(np.uint8)) > 0
        frame = StreamFrame(
            stamp_ns=raw.stamp_ns,
            left=left,
            right=right,
            K=calibration.K_rect,
            baseline_m=calibration.baseline_m,
            disparity_offset_px=calibration.disparity_offset,
            T_world_camera=raw.T_world_left_truth @ calibration.T_raw_rect,
        )
        depth = rectify_left_depth(calibration, raw.ground_truth_depth)
        result.append(TruthFrame(frame, depth, ~instrument & ~specular_mask(left)))
    return result


def abs_rel(prediction: NDArray[np.float32], truth: TruthFrame) -> float:
    """Mean |p - g| / g over tissue pixels with ground truth."""
    keep = truth.tissue & np.isfinite(truth.depth)
    return float(np.mean(np.abs(prediction[keep] - truth.depth[keep]) / truth.depth[keep]))
