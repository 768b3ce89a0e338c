"""Specular-highlight and tissue-region masks for evaluating depth on endoscopic images.

Wet tissue under a coaxial light shows specular highlights whose appearance differs between the two
views, so stereo depth there is unreliable and depth metrics are also reported on the *tissue
region*, which excludes them (and any instrument). The highlight detector itself belongs to the
front-end (:func:`stereo_nerf_core.frontend.masks.specular_mask`: bright, unsaturated pixels, HSV
``V >= 0.90`` and ``S <= 0.25`` by default, dilated by 2 px); this module reuses it and reports bad
input as :class:`EvaluationError`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.frontend import masks
from stereo_nerf_core.frontend.errors import FrontendError

Mask = NDArray[np.bool_]


def _rgb(rgb: ArrayLike) -> NDArray[np.uint8]:
    try:
        return masks.rgb_image(rgb)
    except FrontendError as error:
        raise EvaluationError(str(error)) from error


def _mask(values: ArrayLike, shape: tuple[int, ...], name: str) -> Mask:
    mask = np.asarray(values)
    if mask.shape != shape:
        raise EvaluationError(f"{name} must have the image's (H, W) shape {shape}, got {mask.shape}")
    return mask.astype(bool)


def specular_mask(rgb: ArrayLike, *, min_value: float = 0.90, max_saturation: float = 0.25, dilate_px: int = 2) -> Mask:
    """Boolean mask (H, W) of specular highlights of a uint8 (H, W, 3) image (the front-end's detector)."""
    try:
        return masks.specular_mask(rgb, min_value=min_value, max_saturation=max_saturation, dilate_px=dilate_px)
    except FrontendError as error:
        raise EvaluationError(str(error)) from error


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
