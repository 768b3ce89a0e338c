"""The one keyframe factory: a rectified pair, its depth prior, masks and pose -> a :class:`TrainingKeyframe`.

One resampling rule for every consumer (the replay's trainer methods, keyframes read from a bag, pose-free):
``downscale`` takes block means; a block is tissue only when all its pixels are, has prior depth (the mean of
its pixels with depth) when any pixel does, and ground-truth depth when all pixels do. The right image's
tissue mask is the left instrument mask moved by the prior's disparity, without specular highlights.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.eval.specular import specular_mask
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe

F32 = NDArray[np.float32]


def _blocks(image: NDArray[np.generic], factor: int) -> NDArray[np.generic]:
    height, width = image.shape[0] // factor, image.shape[1] // factor
    cropped = image[: height * factor, : width * factor]
    return cropped.reshape(height, factor, width, factor, *image.shape[2:])


def shrink_image(image: NDArray[np.uint8], factor: int) -> NDArray[np.uint8]:
    """(H, W[, C]) uint8 image -> (H // factor, W // factor[, C]) block means, rounded."""
    mean = _blocks(image.astype(np.float32), factor).mean(axis=(1, 3))
    return np.clip(np.rint(mean), 0, 255).astype(np.uint8)


def shrink_mask(mask: NDArray[np.bool_], factor: int) -> NDArray[np.bool_]:
    """(H, W) mask -> blocks where every pixel is set."""
    return np.asarray(_blocks(mask, factor).all(axis=(1, 3)), dtype=bool)


def shrink_prior(depth: F32, confidence: F32, factor: int) -> tuple[F32, F32]:
    """(H, W) prior depth (0: none) and confidence -> block means over the pixels with depth (0 where none)."""
    present = _blocks(depth > 0, factor)
    count = present.sum(axis=(1, 3))
    total = np.where(present, _blocks(depth, factor), 0).sum(axis=(1, 3))
    mean_depth = np.where(count > 0, total / np.maximum(count, 1), 0).astype(np.float32)
    mean_confidence = _blocks(confidence, factor).mean(axis=(1, 3)).astype(np.float32)
    return mean_depth, np.where(count > 0, mean_confidence, 0).astype(np.float32)


def shrink_truth(depth: F32, factor: int) -> F32:
    """(H, W) ground-truth depth, NaN where none -> block means (NaN where any pixel is NaN)."""
    return np.asarray(_blocks(depth, factor).mean(axis=(1, 3)), dtype=np.float32)


def instrument_in_right(
    instrument: NDArray[np.bool_], disparity: F32, calibration: StereoCalibration
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


def make_keyframe(
    *,
    index: int,
    stamp_ns: int,
    left: NDArray[np.uint8],
    right: NDArray[np.uint8] | None,
    prior: DepthPrior,
    calibration: StereoCalibration,
    T_world_camera: NDArray[np.float64],
    tissue: NDArray[np.bool_],
    instrument: NDArray[np.bool_],
    downscale: int = 1,
    binocular: bool = True,
) -> TrainingKeyframe:
    """A training keyframe of a rectified pair (H, W, 3) at ``1 / downscale``; ``tissue`` and ``instrument`` are
    (H, W) left masks, ``T_world_camera`` the rectified left camera's pose; ``binocular`` keeps the right view
    (``right`` None: a monocular frame, left only)."""
    if downscale < 1:
        raise TrainingError(f"downscale must be >= 1, got {downscale}")
    binocular = binocular and right is not None
    right_tissue = None
    if right is not None and binocular:
        right_tissue = ~specular_mask(right) & ~instrument_in_right(instrument, prior.disparity, calibration)
    K = calibration.K_rect
    depth, confidence = prior.depth, prior.confidence
    if downscale > 1:
        K = calibration.rectified_scaled(left.shape[1] // downscale, left.shape[0] // downscale).K_rect
        left, tissue = shrink_image(left, downscale), shrink_mask(tissue, downscale)
        if right is not None and right_tissue is not None:
            right, right_tissue = shrink_image(right, downscale), shrink_mask(right_tissue, downscale)
        depth, confidence = shrink_prior(depth, confidence, downscale)
    return TrainingKeyframe(
        index=index,
        stamp_ns=stamp_ns,
        rgb=left,
        depth=depth,
        confidence=confidence,
        valid=tissue,
        K=K,
        T_world_camera=T_world_camera,
        right_rgb=right if binocular else None,
        baseline_m=calibration.baseline_m,
        right_valid=right_tissue,
    )
