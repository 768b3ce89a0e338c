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

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.eval.specular import specular_mask
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import read_messages
from stereo_nerf_core.pipeline.frames import FrameAssembler, StereoFrame
from stereo_nerf_core.pipeline.stages import StereoDepthStage
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe

BAG_TOPICS = (
    topics.LEFT_IMAGE,
    topics.RIGHT_IMAGE,
    topics.LEFT_CAMERA_INFO,
    topics.RIGHT_CAMERA_INFO,
    topics.LEFT_INSTRUMENT_MASK,
    topics.GROUND_TRUTH_LEFT_DEPTH,
    topics.GROUND_TRUTH_POSE,
    topics.TF,
    topics.TF_STATIC,
)


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
    for frame in assembler.frames_from(read_messages(bag, BAG_TOPICS)):
        if max_frames is not None and frame.index >= max_frames:
            break
        if frame.index % every or frame.T_world_left_truth is None:
            continue
        result.append(_keyframe(stage, frame, downscale=downscale, binocular=binocular))
    return result


def _keyframe(stage: StereoDepthStage, frame: StereoFrame, *, downscale: int, binocular: bool) -> BagKeyframe:
    assert frame.T_world_left_truth is not None
    calibration, left, right = stage.rectify(frame.left.rgb, frame.right.rgb, frame.left.view, frame.right.view)
    prior = stage.estimate_prior(left, right, calibration)
    instrument = np.zeros(left.shape[:2], bool)
    if frame.instrument_mask is not None:
        instrument = calibration.rectify_left_nearest(frame.instrument_mask.astype(np.uint8)) > 0
    tissue = ~instrument & ~specular_mask(left)
    right_tissue = ~specular_mask(right) & ~_instrument_in_right(instrument, prior.disparity, calibration)
    truth = None if frame.ground_truth_depth is None else rectify_left_depth(calibration, frame.ground_truth_depth)
    K = calibration.K_rect
    if downscale > 1:
        height, width = left.shape[0] // downscale, left.shape[1] // downscale
        K = calibration.rectified_scaled(width, height).K_rect
        left, right = _shrink_image(left, downscale), _shrink_image(right, downscale)
        tissue, right_tissue = _shrink_all(tissue, downscale), _shrink_all(right_tissue, downscale)
        depth, confidence = _shrink_prior(prior.depth, prior.confidence, downscale)
        truth = None if truth is None else _shrink_truth(truth, downscale)
    else:
        depth, confidence = prior.depth, prior.confidence
    keyframe = TrainingKeyframe(
        index=frame.index,
        stamp_ns=frame.stamp_ns,
        rgb=left,
        depth=depth,
        confidence=confidence,
        valid=tissue,
        K=K,
        T_world_camera=frame.T_world_left_truth @ calibration.T_raw_rect,
        right_rgb=right if binocular else None,
        baseline_m=calibration.baseline_m,
        right_valid=right_tissue if binocular else None,
    )
    return BagKeyframe(keyframe, truth, tissue)


def _instrument_in_right(
    instrument: NDArray[np.bool_], disparity: NDArray[np.float32], calibration: StereoCalibration
) -> NDArray[np.bool_]:
    """The left instrument mask moved into the right image by each pixel's disparity, dilated by 3 px.

    Instrument pixels without a prior disparity are moved by the median instrument disparity (or, with
    none at all, not moved): the right image shows the instrument about one disparity to the left.
    """
    rows, columns = np.nonzero(instrument)
    moved = np.zeros_like(instrument)
    if rows.size == 0:
        return moved
    shifts = disparity[rows, columns] - calibration.disparity_offset
    known = shifts > 0
    fallback = float(np.median(shifts[known])) if known.any() else 0.0
    shifts = np.where(known, shifts, fallback)
    target = np.clip(np.rint(columns - shifts).astype(np.intp), 0, instrument.shape[1] - 1)
    moved[rows, target] = True
    moved |= instrument & (fallback == 0.0)
    return cv2.dilate(moved.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)


def _blocks(image: NDArray[np.generic], factor: int) -> NDArray[np.generic]:
    height, width = image.shape[0] // factor, image.shape[1] // factor
    cropped = image[: height * factor, : width * factor]
    return cropped.reshape(height, factor, width, factor, *image.shape[2:])


def _shrink_image(image: NDArray[np.uint8], factor: int) -> NDArray[np.uint8]:
    mean = _blocks(image.astype(np.float32), factor).mean(axis=(1, 3))
    return np.clip(np.rint(mean), 0, 255).astype(np.uint8)


def _shrink_all(mask: NDArray[np.bool_], factor: int) -> NDArray[np.bool_]:
    return np.asarray(_blocks(mask, factor).all(axis=(1, 3)), dtype=bool)


def _shrink_prior(
    depth: NDArray[np.float32], confidence: NDArray[np.float32], factor: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    present = _blocks(depth > 0, factor)
    count = present.sum(axis=(1, 3))
    total = np.where(present, _blocks(depth, factor), 0).sum(axis=(1, 3))
    mean_depth = np.where(count > 0, total / np.maximum(count, 1), 0).astype(np.float32)
    mean_confidence = _blocks(confidence, factor).mean(axis=(1, 3)).astype(np.float32)
    return mean_depth, np.where(count > 0, mean_confidence, 0).astype(np.float32)


def _shrink_truth(depth: NDArray[np.float32], factor: int) -> NDArray[np.float32]:
    return np.asarray(_blocks(depth, factor).mean(axis=(1, 3)), dtype=np.float32)  # NaN where any pixel is NaN
