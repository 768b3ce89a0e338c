"""Pixel masks of the front-end and the reasons a prior pixel is rejected.

A rejected pixel carries one bit per cause in a ``uint8`` reason map (0: kept), so a user can see
why: :class:`Reason`. The masks here are the image-based causes: specular highlights (bright and
unsaturated), instruments (a rectified mask from the instrument topic, when there is one),
background (outside the image content, or too dark to match), and depth outside the working range.

Specular highlights: wet tissue under a coaxial light shows nearly white spots whose appearance
differs between the two views. A pixel is specular when, in HSV terms, ``V = max(R, G, B) / 255 >=
min_value`` (default 0.90) and ``S = (max - min) / max <= max_saturation`` (default 0.25). Tissue is
red/pink (S typically 0.3 to 0.7, even where brightly lit), so these defaults catch the white glints
without eating into well-lit tissue. The mask is then dilated by ``dilate_px`` pixels (every pixel
whose centre lies within ``dilate_px`` of a highlight pixel's centre) to cover the highlights' halo.
V and S do not depend on the channel order, so RGB and BGR images give the same mask.
"""

from __future__ import annotations

import enum
import math

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.hole_filling import image_content

Mask = NDArray[np.bool_]


class Reason(enum.IntFlag):
    """Why a prior pixel is rejected; bits of the reason map."""

    NO_MATCH = 1
    """The backend found no reliable match (left-right check, uniqueness, speckle) and did not fill it."""
    OUT_OF_RANGE = 2
    """Depth outside ``[min_depth_m, max_depth_m]``."""
    SPECULAR = 4
    """Specular highlight (bright, unsaturated): the views disagree there."""
    INSTRUMENT = 8
    """Covered by the instrument mask."""
    BACKGROUND = 16
    """Outside the image content (rectification border) or too dark to match."""
    LOW_CONFIDENCE = 32
    """Combined confidence below the minimum (weak texture, weak match, filled far from any match)."""
    MULTIVIEW = 64
    """Disagrees with the priors of neighbouring keyframes."""


def reason_names(bits: int) -> list[str]:
    """Names of the reasons set in ``bits`` (e.g. ``["SPECULAR", "LOW_CONFIDENCE"]``)."""
    return [reason.name or str(int(reason)) for reason in Reason if bits & reason]


def rgb_image(image: ArrayLike) -> NDArray[np.uint8]:
    """The image as uint8 (H, W, 3); anything else is a :class:`FrontendError`."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise FrontendError(f"image must be uint8 (H, W, 3), got {array.dtype} {array.shape}")
    return array


def channel_extremes(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Per-pixel largest and smallest channel (H, W) of a uint8 (H, W, 3) image (OpenCV: much faster than
    numpy's reduction over a last axis of 3)."""
    first, second, third = cv2.split(np.ascontiguousarray(image))
    return cv2.max(cv2.max(first, second), third), cv2.min(cv2.min(first, second), third)


def specular_mask(rgb: ArrayLike, *, min_value: float = 0.90, max_saturation: float = 0.25, dilate_px: int = 2) -> Mask:
    """Boolean mask (H, W) of specular highlights of a uint8 (H, W, 3) image (see module docstring)."""
    image = rgb_image(rgb)
    for name, value in (("min_value", min_value), ("max_saturation", max_saturation)):
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise FrontendError(f"{name} must be in [0, 1], got {value}")
    if dilate_px < 0:
        raise FrontendError(f"dilate_px must be >= 0, got {dilate_px}")
    brightest, darkest = channel_extremes(image)
    high = brightest.astype(np.float64)
    low = darkest.astype(np.float64)
    brightness = high / 255.0
    saturation = np.divide(high - low, high, out=np.zeros_like(high), where=high > 0)
    mask = (brightness >= min_value) & (saturation <= max_saturation)
    if dilate_px > 0 and mask.any():
        offsets = np.arange(-dilate_px, dilate_px + 1)
        disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= dilate_px**2).astype(np.uint8)
        mask = cv2.dilate(mask.astype(np.uint8), disc).astype(bool)
    return mask


def background_mask(image: NDArray[np.uint8], *, max_value: int = 8) -> Mask:
    """(H, W) background of a uint8 (H, W[, 3]) image: the black rectification border and pixels whose
    brightest channel (3x3 median) is at most ``max_value`` (too dark for the views to be matched)."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise FrontendError(f"image must be uint8 (H, W) or (H, W, 3), got {image.dtype} {image.shape}")
    value = image if image.ndim == 2 else channel_extremes(image)[0]
    dark = cv2.medianBlur(np.ascontiguousarray(value), 3) <= max_value
    return dark | ~image_content(value)


def instrument_mask(mask: ArrayLike | None, shape: tuple[int, int]) -> Mask:
    """A rectified instrument mask (H, W) (nonzero = instrument) as bool; ``None`` gives no instrument."""
    if mask is None:
        return np.zeros(shape, bool)
    array = np.asarray(mask)
    if array.shape != shape:
        raise FrontendError(
            f"instrument mask is {array.shape}, expected the rectified image's (H, W) = {shape}; "
            "rectify it with the left camera (StereoCalibration.rectify_left_nearest)"
        )
    return array.astype(bool)


def out_of_range_mask(depth: NDArray[np.floating], *, min_depth_m: float, max_depth_m: float) -> Mask:
    """(H, W) pixels with a depth (> 0) outside ``[min_depth_m, max_depth_m]``."""
    present = np.isfinite(depth) & (depth > 0)
    return present & ((depth < min_depth_m) | (depth > max_depth_m))
