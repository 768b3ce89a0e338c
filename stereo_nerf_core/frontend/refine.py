"""Sub-pixel disparity refinement by Gauss-Newton steps on the windowed photometric error."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]


def grey(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """(H, W) grey of an (H, W) or RGB (H, W, 3) uint8 image."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def highpass(image: NDArray[np.uint8], size: int = 15) -> F32:
    """(H, W) float32 grey image minus its ``size`` box mean (removes brightness differences between views)."""
    values = grey(image).astype(np.float32)
    return values - cv2.blur(values, (size, size))


def pixel_grid(height: int, width: int) -> tuple[F32, F32]:
    """Column and row coordinates (H, W) float32 of every pixel."""
    columns = np.arange(width, dtype=np.float32)[None, :].repeat(height, axis=0)
    rows = np.arange(height, dtype=np.float32)[:, None].repeat(width, axis=1)
    return columns, rows


def refine_subpixel(
    left: NDArray[np.uint8],
    right: NDArray[np.uint8],
    disparity: F32,
    *,
    window: int = 11,
    steps: int = 2,
    max_shift: float = 0.3,
    highpass_size: int = 15,
    vertical_offset: F32 | None = None,
) -> F32:
    """Remove pixel-locking bias with 1-D Gauss-Newton steps on the windowed photometric error.

    Each step warps the right image by the current disparity ``d`` and solves
    ``I_l(x, y) = I_r(x - d - delta, y - dy)`` for ``delta`` in a ``window`` box; steps larger than
    1 px (depth edges, low texture) are not taken, and the result stays within ``max_shift`` px of
    the input. Both images are high-passed (minus a ``highpass_size`` box mean) so brightness
    differences between the views (vignetting, view-dependent highlights) do not bias the steps;
    the last step warps bicubically, which keeps interpolation from pulling towards whole pixels
    (earlier steps and the gradient use bilinear interpolation, which is cheaper).
    ``vertical_offset`` (H, W) is the rows' residual misalignment ``dy = y_left - y_right`` (see
    :mod:`stereo_nerf_core.frontend.vertical`). Pixels with ``d <= 0`` are left as they are.
    Images are (H, W[, 3]) uint8, ``disparity`` (H, W) in pixels.
    """
    grey_left = highpass(left, highpass_size)
    grey_right = highpass(right, highpass_size)
    gradient_right = cv2.Sobel(grey_right, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    height, width = disparity.shape
    columns, rows = pixel_grid(height, width)
    if vertical_offset is not None:
        rows = rows - vertical_offset.astype(np.float32)
    valid = disparity > 0
    refined = disparity.astype(np.float32).copy()
    lowest, highest = refined - np.float32(max_shift), refined + np.float32(max_shift)
    box = (window, window)
    for index in range(steps):
        map_x = columns - refined
        # bicubic for the last step's warp (no pull towards whole pixels), bilinear elsewhere (cheaper)
        warp_interpolation = cv2.INTER_CUBIC if index == steps - 1 else cv2.INTER_LINEAR
        warped = cv2.remap(grey_right, map_x, rows, warp_interpolation, borderMode=cv2.BORDER_REPLICATE)
        slope = cv2.remap(gradient_right, map_x, rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        numerator = cv2.boxFilter(slope * (grey_left - warped), -1, box, normalize=False)
        denominator = cv2.boxFilter(slope * slope, -1, box, normalize=False)
        delta = numerator / np.maximum(denominator, np.float32(1e-3))
        take = valid & (denominator > 1e-3) & (np.abs(delta) < 1.0)
        np.subtract(refined, delta, out=refined, where=take)
        np.clip(refined, lowest, highest, out=refined)
    return np.where(valid, refined, disparity).astype(np.float32)
