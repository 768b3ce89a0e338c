"""Training keyframes from a recorded bag, through the same stages as the offline replay.

Per synchronised pair: rectification and the stereo depth prior (:class:`StereoDepthStage`), the
tissue mask (not instrument, not specular), the pose of the rectified left camera
``T_world_rect = T_world_left @ calibration.T_raw_rect`` and, for scoring, the rectified ground-truth
depth. ``scale`` resamples everything by an integer factor (block means; a block is tissue only
when all its pixels are, and has prior/ground-truth depth when any pixel does / all pixels do).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.eval.specular import specular_mask
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.spine.frames import FrameAssembler, StereoFrame
from stereo_nerf_core.spine.stages import StereoDepthStage
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframe_factory import make_keyframe, shrink_mask, shrink_truth
from stereo_nerf_core.training.keyframes import TrainingKeyframe


@dataclass(frozen=True)
class BagKeyframe:
    """A training keyframe with what scoring needs beside it."""

    keyframe: TrainingKeyframe
    ground_truth_depth: NDArray[np.float32] | None
    """(H, W) rectified Z in metres, NaN where none."""
    tissue: NDArray[np.bool_]
    """(H, W) not instrument, not specular (the keyframe's ``valid``)."""


def keyframes_from_bag(
    bag: Path | str,
    config: PipelineConfig,
    *,
    every: int = 1,
    downscale: int = 1,
    binocular: bool = False,
    max_frames: int | None = None,
) -> list[BagKeyframe]:
    """Every ``every``-th pair of ``bag`` (with a pose) as a keyframe, resampled by ``1 / downscale``."""
    if every < 1 or downscale < 1:
        raise TrainingError(f"every and downscale must be >= 1, got {every} and {downscale}")
    stage = StereoDepthStage(config.depth_prior)
    assembler = FrameAssembler(config.sync, tracking=config.tracking)
    result: list[BagKeyframe] = []
    for frame in assembler.frames_from_bag(bag, max_frames=max_frames):
        if frame.index % every or frame.T_world_left_truth is None:
            continue
        result.append(bag_keyframe(stage, frame, downscale=downscale, binocular=binocular))
    return result


def bag_keyframe(stage: StereoDepthStage, frame: StereoFrame, *, downscale: int, binocular: bool) -> BagKeyframe:
    """One pair of a bag (with its ground-truth pose) as a keyframe, through the replay's stages."""
    assert frame.T_world_left_truth is not None
    calibration, left, right = stage.rectify_frame(frame)
    prior = stage.estimate_prior(left, right, calibration)
    instrument = np.zeros(left.shape[:2], bool)
    if frame.instrument_mask is not None:
        instrument = calibration.rectify_left_nearest(frame.instrument_mask.astype(np.uint8)) > 0
    tissue = ~instrument & ~specular_mask(left)
    truth = None if frame.ground_truth_depth is None else rectify_left_depth(calibration, frame.ground_truth_depth)
    keyframe = make_keyframe(
        index=frame.index,
        stamp_ns=frame.stamp_ns,
        left=left,
        right=right,
        prior=prior,
        calibration=calibration,
        T_world_camera=frame.T_world_left_truth @ calibration.T_raw_rect,
        tissue=tissue,
        instrument=instrument,
        downscale=downscale,
        binocular=binocular,
    )
    if downscale > 1:
        tissue = shrink_mask(tissue, downscale)
        truth = None if truth is None else shrink_truth(truth, downscale)
    return BagKeyframe(keyframe, truth, tissue)
