"""Specular-highlight and tissue-region masks for evaluating depth on endoscopic images.

Wet tissue under a coaxial light shows specular highlights: nearly white, saturated-to-the-sensor
spots whose appearance differs between the two views, so stereo depth there is unreliable and depth
metrics are also reported on the *tissue region*, which excludes them (and any instrument).

A pixel is specular when, in HSV terms, it is bright and unsaturated: ``V = max(R, G, B) / 255 >=
min_value`` (default 0.90) and ``S = (max - min) / max <= max_saturation`` (default 0.25). Tissue is
red/pink (S typically 0.3 to 0.7, even where brightly lit), so these defaults catch the white glints
without eating into well-lit tissue. The mask is then dilated by ``dilate_px`` pixels (every pixel
whose centre lies within ``dilate_px`` of a highlight pixel's centre) to cover the highlights' halo.
V and S do not depend on the channel order, so RGB and BGR images give the same mask.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.eval.errors import EvaluationError

Mask = NDArray[np.bool_]


def _rgb(rgb: ArrayLike) -> NDArray[np.uint8]:
    image = np.asarray(rgb)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise EvaluationError(f"image must be uint8 (H, W, 3), got {image.dtype} {image.shape}")
    return image


def _mask(values: ArrayLike, shape: tuple[int, ...], name: str) -> Mask:
    mask = np.asarray(values)
    if mask.shape != shape:
        raise EvaluationError(f"{name} must have the image's (H, W) shape {shape}, got {mask.shape}")
    return mask.astype(bool)


def specular_mask(
    rgb: ArrayLike, *, min_value: float = 0.90, max_saturation: float = 0.25, dilate_px: int = 2
) -> Mask:
    """Boolean mask (H, W) of specular highlights of a uint8 (H, W, 3) image (see module docstring)."""
    image = _rgb(rgb)
    for name, value in (("min_value", min_value), ("max_saturation", max_saturation)):
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise EvaluationError(f"{name} must be in [0, 1], got {value}")
    if dilate_px < 0:
        raise EvaluationError(f"dilate_px must be >= 0, got {dilate_px}")
    high = image.max(axis=2).astype(np.float64)
    low = image.min(axis=2).astype(np.float64)
    value = high / 255.0
    saturation = np.divide(high - low, high, out=np.zeros_like(high), where=high > 0)
    mask = (value >= min_value) & (saturation <= max_saturation)
    if dilate_px > 0 and mask.any():
        offsets = np.arange(-dilate_px, dilate_px + 1)
        disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= dilate_px**2).astype(np.uint8)
        mask = cv2.dilate(mask.astype(np.uint8), disc).astype(bool)
    return mask


def tissue_region(
    rgb: ArrayLike, instrument_mask: ArrayLike | None = None, depth_valid: ArrayLike | None = None
) -> Mask:
    """Boolean mask (H, W) of tissue: not specular (default thresholds), not instrument and, when
    ``depth_valid`` (H, W) is given, inside it."""
    image = _rgb(rgb)
    region = ~specular_mask(image)
    if instrument_mask is not None:
        region &= ~_mask(instrument_mask, image.shape[:2], "instrument_mask")
    if depth_valid is not None:
        region &= _mask(depth_valid, image.shape[:2], "depth_valid")
    return region
