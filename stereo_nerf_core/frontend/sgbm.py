"""Dense depth prior from OpenCV SGBM with a left-right consistency check.

Works on a rectified pair; returns left-reference disparity, metric depth and a confidence map.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior, register_prior_backend
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.geometry.camera import StereoCalibration


def disparity_search_range(calibration: StereoCalibration, config: DepthPriorConfig) -> tuple[int, int]:
    """(min_disparity, num_disparities) covering ``config``'s depth range; the count is a multiple of 16."""
    focal_baseline = calibration.fx * calibration.baseline_m
    offset = calibration.disparity_offset
    low = int(np.floor(focal_baseline / config.max_depth_m + offset))
    high = int(np.ceil(focal_baseline / config.min_depth_m + offset)) + 1
    low = max(low - 1, 0)
    count = max(16, int(np.ceil((high - low) / 16.0)) * 16)
    return low, count


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


def _grey(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _match(matcher: cv2.StereoSGBM, left: NDArray[np.uint8], right: NDArray[np.uint8], pad: int) -> NDArray[np.float32]:
    """SGBM disparity (px) of the whole left image: SGBM leaves its first ``pad`` columns empty, so pad first."""
    padded_left = cv2.copyMakeBorder(left, 0, 0, pad, 0, cv2.BORDER_REPLICATE)
    padded_right = cv2.copyMakeBorder(right, 0, 0, pad, 0, cv2.BORDER_REPLICATE)
    return matcher.compute(padded_left, padded_right)[:, pad:].astype(np.float32) / 16.0


def refine_subpixel(
    left: NDArray[np.uint8],
    right: NDArray[np.uint8],
    disparity: NDArray[np.float32],
    *,
    window: int = 11,
    steps: int = 2,
    max_shift: float = 0.3,
    highpass: int = 15,
) -> NDArray[np.float32]:
    """Remove SGBM's pixel-locking bias with 1-D Gauss-Newton steps on the windowed photometric error.

    Each step warps the right image by the current disparity ``d`` and solves
    ``I_l(x) = I_r(x - d - delta)`` for ``delta`` in a ``window`` box; steps larger than 1 px
    (depth edges, low texture) are not taken, and the result stays within ``max_shift`` px of
    SGBM's own sub-pixel estimate. Both images are high-passed (minus a ``highpass`` box mean) so
    brightness differences between the views (vignetting, view-dependent highlights) do not bias
    the steps; warping is bicubic, which keeps interpolation from pulling towards whole pixels.
    Pixels with ``d <= 0`` are left as they are.
    """
    grey_left = _grey(left).astype(np.float32)
    grey_right = _grey(right).astype(np.float32)
    grey_left -= cv2.blur(grey_left, (highpass, highpass))
    grey_right -= cv2.blur(grey_right, (highpass, highpass))
    gradient_right = cv2.Sobel(grey_right, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    height, width = disparity.shape
    columns, rows = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    valid = disparity > 0
    refined = disparity.copy()
    for _ in range(steps):
        map_x = columns - refined
        warped = cv2.remap(grey_right, map_x, rows, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        slope = cv2.remap(gradient_right, map_x, rows, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        residual = grey_left - warped
        numerator = cv2.boxFilter(slope * residual, -1, (window, window), normalize=False)
        denominator = cv2.boxFilter(slope * slope, -1, (window, window), normalize=False)
        delta = np.where(denominator > 1e-3, -numerator / np.maximum(denominator, 1e-3), 0.0)
        step = np.where(valid & (np.abs(delta) < 1.0), delta, 0.0)
        refined = np.clip(refined + step, disparity - max_shift, disparity + max_shift).astype(np.float32)
    return np.where(valid, refined, disparity).astype(np.float32)


def sgbm_depth_prior(
    left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration, config: DepthPriorConfig
) -> DepthPrior:
    """SGBM prior of a rectified pair (H, W[, 3]) uint8.

    The right-reference disparity comes from matching the mirrored pair; a left pixel is kept when
    the right disparity at its match agrees within ``config.lr_max_diff_px`` and its depth lies in
    ``[min_depth_m, max_depth_m]``. Confidence falls with the left-right disagreement.
    """
    if left.shape != right.shape:
        raise FrontendError(f"left and right images differ in size: {left.shape} vs {right.shape}")
    if left.dtype != np.uint8 or right.dtype != np.uint8:
        raise FrontendError(f"the SGBM prior needs uint8 images, got {left.dtype} and {right.dtype}")
    if left.shape[1::-1] != calibration.size:
        raise FrontendError(f"images are {left.shape[1]}x{left.shape[0]}, calibration is {calibration.size}")
    grey_left, grey_right = _grey(left), _grey(right)
    low, count = disparity_search_range(calibration, config)
    matcher = _matcher(low, count, config)
    pad = low + count
    disparity_left = _match(matcher, grey_left, grey_right, pad)
    mirrored = _match(matcher, np.ascontiguousarray(grey_right[:, ::-1]), np.ascontiguousarray(grey_left[:, ::-1]), pad)
    disparity_right = np.ascontiguousarray(mirrored[:, ::-1])

    height, width = disparity_left.shape
    found = disparity_left >= low
    columns = np.arange(width, dtype=np.float32)[None, :] - disparity_left
    match_x = np.clip(np.rint(columns), 0, width - 1).astype(np.intp)
    right_at_match = disparity_right[np.arange(height)[:, None], match_x]
    disagreement = np.abs(disparity_left - right_at_match)
    consistent = found & (columns >= 0) & (right_at_match >= low) & (disagreement <= config.lr_max_diff_px)

    disparity_left = np.where(consistent, disparity_left, 0).astype(np.float32)
    if config.subpixel_refinement:
        disparity_left = refine_subpixel(grey_left, grey_right, disparity_left)
    depth = calibration.depth_from_disparity(disparity_left)
    in_range = (depth >= config.min_depth_m) & (depth <= config.max_depth_m)
    keep = consistent & in_range
    scale = max(config.lr_max_diff_px, 1e-3)
    confidence = np.where(keep, np.exp(-0.5 * (disagreement / (0.5 * scale)) ** 2), 0).astype(np.float32)
    return DepthPrior(
        disparity=np.where(keep, disparity_left, 0).astype(np.float32),
        depth=np.where(keep, depth, 0).astype(np.float32),
        confidence=confidence,
    )


class SgbmBackend:
    """``depth_prior.backend: sgbm``: :func:`sgbm_depth_prior` with the configured parameters."""

    def __init__(self, config: DepthPriorConfig) -> None:
        self.config = config

    def estimate(
        self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration
    ) -> DepthPrior:
        """The SGBM prior of a rectified pair."""
        return sgbm_depth_prior(left, right, calibration, self.config)


register_prior_backend("sgbm", SgbmBackend)
