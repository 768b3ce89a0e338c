"""``depth_prior.backend: sgbm``: semi-global matching with rotation refinement, row alignment, left-right check,
hole filling and sub-pixel refinement.

Per rectified pair (H, W[, 3]) uint8:

1. the pair is downscaled by ``sgbm_downscale`` (area averaging) for matching;
2. sparse ORB / Lucas-Kanade matches measure the rows' misalignment. With ``refine_extrinsics``, the
   right camera's roll is estimated from them (:mod:`~stereo_nerf_core.frontend.extrinsics`) and, when
   significant, the right image is warped by the corrective rotation, which also removes the
   horizontal disparity tilt a roll causes; the correction is kept for the stream
   (:class:`SgbmBackend`). With ``vertical_correction``, the remaining misalignment is fitted and removed
   from the right image (:mod:`~stereo_nerf_core.frontend.vertical`); a pair whose median misalignment
   exceeds ``max_vertical_offset_px`` is refused as not rectified;
3. OpenCV SGBM (3-way) matches the left image, and the mirrored pair gives the right-reference
   disparity; a left pixel is kept when both agree within ``lr_max_diff_px`` (full-resolution pixels);
4. with ``fill_holes``, the other pixels are filled by image-guided interpolation
   (:mod:`~stereo_nerf_core.frontend.hole_filling`) and marked in :attr:`DepthPrior.filled`, except
   where the filled disparity would put the match outside the right image (no stereo evidence) and
   where the matches the fill averages disagree by more than ``fill_max_spread_px``;
5. the disparity is upsampled to the input size and refined there by Gauss-Newton steps on the
   photometric error (``subpixel_refinement``, :func:`~stereo_nerf_core.frontend.refine.refine_subpixel`),
   which also removes SGBM's pixel locking;
6. depth ``fx * B / (d - disparity_offset)``; pixels outside ``[min_depth_m, max_depth_m]`` are emptied.

Confidence: ``exp(-0.5 (e / (tol / 2))^2)`` of the left-right disagreement ``e`` on matched pixels;
``filled_confidence`` on filled pixels next to a match, halving every 7 px (input pixels) further away.
:meth:`DepthPrior.without_filled` (or ``fill_holes: false``) gives the raw, unfilled prior.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.frontend.confidence import left_right_check, lr_confidence
from stereo_nerf_core.frontend.depth_prior import DepthPrior, register_prior_backend
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.extrinsics import (
    ExtrinsicsRefiner,
    correction_homography,
    estimate_roll,
    right_intrinsics,
    scaled_intrinsics,
    transform_matches,
    warp_right,
)
from stereo_nerf_core.frontend.hole_filling import fill_with_confidence
from stereo_nerf_core.frontend.refine import grey, pixel_grid, refine_subpixel
from stereo_nerf_core.frontend.sparse_stereo import sparse_disparity_field, sparse_stereo_flow
from stereo_nerf_core.frontend.vertical import VerticalModel, align_right_rows, checked_vertical_model
from stereo_nerf_core.geometry.camera import StereoCalibration

__all__ = ["SgbmBackend", "check_rectified_pair", "disparity_search_range", "refine_subpixel", "sgbm_depth_prior"]

F32 = NDArray[np.float32]


def disparity_search_range(calibration: StereoCalibration, config: DepthPriorConfig) -> tuple[int, int]:
    """(min_disparity, num_disparities) covering ``config``'s depth range; the count is a multiple of 16."""
    focal_baseline = calibration.fx * calibration.baseline_m
    offset = calibration.disparity_offset
    low = int(np.floor(focal_baseline / config.max_depth_m + offset))
    high = int(np.ceil(focal_baseline / config.min_depth_m + offset)) + 1
    low = max(low - 1, 0)
    count = max(16, int(np.ceil((high - low) / 16.0)) * 16)
    return low, count


def check_rectified_pair(left: NDArray[np.generic], right: NDArray[np.generic], calibration: StereoCalibration) -> None:
    """Raise :class:`FrontendError` unless ``left``/``right`` are same-size uint8 images of the calibration's size."""
    if left.shape != right.shape:
        raise FrontendError(f"left and right images differ in size: {left.shape} vs {right.shape}")
    if left.dtype != np.uint8 or right.dtype != np.uint8:
        raise FrontendError(f"the depth prior needs uint8 images, got {left.dtype} and {right.dtype}")
    if left.ndim not in (2, 3) or (left.ndim == 3 and left.shape[2] != 3):
        raise FrontendError(f"images must be (H, W) grey or (H, W, 3) RGB, got {left.shape}")
    if left.shape[1::-1] != calibration.size:
        raise FrontendError(f"images are {left.shape[1]}x{left.shape[0]}, calibration is {calibration.size}")


def _matcher(min_disparity: int, num_disparities: int, config: DepthPriorConfig) -> cv2.StereoSGBM:
    block = config.block_size
    return cv2.StereoSGBM.create(
        minDisparity=min_disparity,
        numDisparities=num_disparities,
        blockSize=block,
        P1=8 * block * block,
        P2=32 * block * block,
        disp12MaxDiff=-1,
        preFilterCap=31,
        uniquenessRatio=config.uniqueness_ratio,
        speckleWindowSize=config.speckle_window,
        speckleRange=config.speckle_range,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )


def _match(matcher: cv2.StereoSGBM, left: NDArray[np.uint8], right: NDArray[np.uint8], pad: int) -> F32:
    """SGBM disparity (px) of the whole left image: SGBM leaves its first ``pad`` columns empty, so pad first."""
    padded_left = cv2.copyMakeBorder(left, 0, 0, pad, 0, cv2.BORDER_REPLICATE)
    padded_right = cv2.copyMakeBorder(right, 0, 0, pad, 0, cv2.BORDER_REPLICATE)
    return matcher.compute(padded_left, padded_right)[:, pad:].astype(np.float32) / 16.0


def _downscale(image: NDArray[np.uint8], scale: int) -> NDArray[np.uint8]:
    if scale == 1:
        return image
    height, width = image.shape[:2]
    return cv2.resize(image, (width // scale, height // scale), interpolation=cv2.INTER_AREA)


def _upsample(values: F32, weight: F32, size: tuple[int, int]) -> F32:
    """Bilinear upsampling of ``values`` (h, w) where ``weight`` (h, w) > 0, normalised so holes do not bleed in."""
    top = cv2.resize(values * weight, size, interpolation=cv2.INTER_LINEAR)
    bottom = cv2.resize(weight, size, interpolation=cv2.INTER_LINEAR)
    return np.where(bottom > 1e-3, top / np.maximum(bottom, 1e-3), 0.0).astype(np.float32)


MIN_MATCHING_WIDTH_PX = 256
"""``sgbm_downscale`` never makes the matched images narrower than this (SGBM degrades on tiny images)."""


def _working_scale(width: int, height: int, requested: int) -> int:
    scale = max(1, requested)
    while scale > 1 and (width // scale < MIN_MATCHING_WIDTH_PX or height // scale < 32):
        scale //= 2
    return scale


def _aligned_right(
    small_left: NDArray[np.uint8],
    right: tuple[NDArray[np.uint8], NDArray[np.uint8]],
    calibration: StereoCalibration,
    config: DepthPriorConfig,
    scale: int,
    search: tuple[int, int],
    refiner: ExtrinsicsRefiner | None,
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], VerticalModel]:
    """The full-size right image corrected for the refined rotation, the matching right image with its rows
    aligned to the left ones, and the vertical model used.

    ``right`` is the grey right image as given and as corrected with ``refiner``'s current rotation.
    """
    original, grey_right = right
    small_right = _downscale(grey_right, scale)
    height, width = small_left.shape
    if not config.vertical_correction and refiner is None:
        return grey_right, small_right, VerticalModel.identity(width, height)
    points, disparity, dy = sparse_stereo_flow(
        small_left, small_right, min_disparity=search[0], max_disparity=search[0] + search[1]
    )
    if refiner is not None:
        K_small = scaled_intrinsics(right_intrinsics(calibration), scale)
        residual = refiner.observe(calibration, estimate_roll(points, disparity, dy, K_small), K_small, height, scale)
        if residual is not None:  # re-warp now; the matches move with the image
            disparity, dy = transform_matches(points, disparity, dy, correction_homography(residual, K_small))
            grey_right = warp_right(original, refiner.rotation(calibration), right_intrinsics(calibration))
            small_right = _downscale(grey_right, scale)
    if not config.vertical_correction:
        return grey_right, small_right, VerticalModel.identity(width, height)
    model = checked_vertical_model(
        points,
        disparity,
        dy,
        width=width,
        height=height,
        max_offset_px=config.max_vertical_offset_px if config.max_vertical_offset_px > 0 else math.inf,
        scale_to_input=scale,
    )
    guess = sparse_disparity_field(points, disparity, width, height)
    return grey_right, align_right_rows(small_right, model, guess), model


def _consistent_matches(
    small_left: NDArray[np.uint8],
    small_right: NDArray[np.uint8],
    config: DepthPriorConfig,
    scale: int,
    search: tuple[int, int],
) -> tuple[F32, NDArray[np.bool_], F32]:
    """Left disparity (h, w) kept by the left-right check, the kept pixels and their confidence."""
    matcher = _matcher(search[0], search[1], config)
    pad = search[0] + search[1]
    disparity_left = _match(matcher, small_left, small_right, pad)
    mirrored = _match(
        matcher, np.ascontiguousarray(small_right[:, ::-1]), np.ascontiguousarray(small_left[:, ::-1]), pad
    )
    tolerance = config.lr_max_diff_px / scale  # in matching pixels
    disagreement, consistent, _ = left_right_check(
        disparity_left, np.ascontiguousarray(mirrored[:, ::-1]), max_diff_px=tolerance, min_disparity=search[0]
    )
    confidence = np.where(consistent, lr_confidence(disagreement, max_diff_px=tolerance), 0).astype(np.float32)
    return np.where(consistent, disparity_left, 0).astype(np.float32), consistent, confidence


def sgbm_depth_prior(
    left: NDArray[np.uint8],
    right: NDArray[np.uint8],
    calibration: StereoCalibration,
    config: DepthPriorConfig,
    refiner: ExtrinsicsRefiner | None = None,
) -> DepthPrior:
    """The SGBM prior (see the module docstring) of a rectified uint8 pair (H, W[, 3]).

    With ``refine_extrinsics``, ``refiner`` carries the rotation correction across the frames of a
    stream (:class:`SgbmBackend` keeps one); without it, each call measures its own.
    """
    check_rectified_pair(left, right, calibration)
    if not config.refine_extrinsics:
        refiner = None
    elif refiner is None:
        refiner = ExtrinsicsRefiner(min_shift_px=config.extrinsics_min_shift_px)
    grey_left, grey_right = grey(left), grey(right)
    height, width = grey_left.shape
    low, count = disparity_search_range(calibration, config)
    scale = _working_scale(width, height, config.sgbm_downscale)
    small_left = _downscale(grey_left, scale)
    small_height, small_width = small_left.shape
    search = (low // scale, max(16, math.ceil(((low + count) / scale - low // scale) / 16.0) * 16))
    corrected = grey_right
    if refiner is not None:
        rotation = refiner.rotation(calibration)
        if not np.array_equal(rotation, np.eye(3)):
            corrected = warp_right(grey_right, rotation, right_intrinsics(calibration))
    grey_right, small_right, model = _aligned_right(
        small_left, (grey_right, corrected), calibration, config, scale, search, refiner
    )
    small, consistent, small_confidence = _consistent_matches(small_left, small_right, config, scale, search)
    filled_small = np.zeros_like(consistent)
    if config.fill_holes:
        small, filled_small, small_confidence = fill_with_confidence(
            small,
            consistent,
            small_confidence,
            _downscale(left, scale),
            filled_confidence=config.filled_confidence,
            pixel_scale=scale,
            max_spread_px=config.fill_max_spread_px,
        )
    has_value = consistent | filled_small

    size = (width, height)
    disparity = _upsample(small, has_value.astype(np.float32), size) * np.float32(scale)
    present = cv2.resize(has_value.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    filled = cv2.resize(filled_small.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    disparity[~present] = 0.0
    if config.subpixel_refinement:
        offset = None
        if not model.is_identity:  # smooth: evaluated on the matching grid, then resized
            columns, rows = pixel_grid(small_height, small_width)
            offset = cv2.resize(model.offset(columns, rows, small), size, interpolation=cv2.INTER_LINEAR) * np.float32(
                scale
            )
        disparity = refine_subpixel(
            grey_left,
            grey_right,
            disparity,
            max_shift=0.3 if scale == 1 else 0.5 * scale,  # the downscaled estimate is good to half its pixel
            vertical_offset=offset,
        )
    depth = calibration.depth_from_disparity(disparity)
    keep = present & (depth >= config.min_depth_m) & (depth <= config.max_depth_m)
    # matched confidence interpolates smoothly; a filled pixel keeps its own (never a matched neighbour's)
    confidence = np.where(
        filled,
        cv2.resize(small_confidence, size, interpolation=cv2.INTER_NEAREST),
        cv2.resize(small_confidence, size, interpolation=cv2.INTER_LINEAR),
    )
    return DepthPrior(
        disparity=np.where(keep, disparity, 0).astype(np.float32),
        depth=np.where(keep, depth, 0).astype(np.float32),
        confidence=np.where(keep, np.clip(confidence, 0.0, 1.0), 0).astype(np.float32),
        filled=(filled & keep) if config.fill_holes else None,
    )


class SgbmBackend:
    """``depth_prior.backend: sgbm``: :func:`sgbm_depth_prior` with the configured parameters.

    One backend serves one stream: with ``refine_extrinsics`` it keeps the stream's rotation
    correction (:attr:`refiner`) from frame to frame.
    """

    def __init__(self, config: DepthPriorConfig) -> None:
        self.config = config
        self.refiner = (
            ExtrinsicsRefiner(min_shift_px=config.extrinsics_min_shift_px) if config.refine_extrinsics else None
        )

    def estimate(self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration) -> DepthPrior:
        """The SGBM prior of a rectified pair."""
        return sgbm_depth_prior(left, right, calibration, self.config, self.refiner)


register_prior_backend("sgbm", SgbmBackend)
