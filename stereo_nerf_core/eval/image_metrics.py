"""Photometric image metrics on float images in [0, 1]."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from stereo_nerf_core.eval.errors import EvaluationError


def psnr(pred: ArrayLike, gt: ArrayLike, *, mask: ArrayLike | None = None, max_value: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(max_value^2 / MSE)`` in dB.

    ``pred`` and ``gt`` are float images of the same shape, (H, W, 3) or (H, W), with values in
    ``[0, max_value]``. ``mask`` (H, W) restricts the MSE to the pixels where it is nonzero (all
    channels of those pixels). Returns ``inf`` for identical images and NaN for an empty mask.
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if p.shape != g.shape or p.ndim not in (2, 3):
        raise EvaluationError(
            f"pred and gt must be (H, W, C) or (H, W) of the same shape, got {p.shape} and {g.shape}"
        )
    if not (math.isfinite(max_value) and max_value > 0.0):
        raise EvaluationError(f"max_value must be positive, got {max_value}")
    squared = (p - g) ** 2
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != g.shape[:2]:
            raise EvaluationError(f"mask must have the images' (H, W) shape {g.shape[:2]}, got {m.shape}")
        squared = squared[m.astype(bool)]
    if squared.size == 0:
        return math.nan
    mse = float(np.mean(squared))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(max_value**2 / mse)
