"""Residual vertical disparity of a "rectified" pair: estimate it from sparse matches, check it, remove it.

A stereo endoscope's calibration drifts (heat, re-mounting, a re-estimated extrinsic), so rows of a
pair rectified with it may disagree by a few pixels, more at the image edges; SGBM then fails there.
This module fits the vertical offset ``dy = y_left - y_right`` of sparse matches
(:mod:`~stereo_nerf_core.frontend.sparse_stereo`) with a smooth model
of the left pixel ``(x, y)`` and its disparity ``d``::

    dy = c0 + c1 u + c2 v + c3 u v + c4 v^2 + c5 delta,   u = 2x / W - 1,  v = 2y / H - 1,  delta = 2d / W

(a small rotation error of the right camera gives the terms in ``u`` and ``v``, a focal-length
mismatch the term in ``v``, a baseline that is not along x the term in ``delta``). The right image is
then resampled so its rows line up with the left rows. A pair whose median ``|dy|`` exceeds
``depth_prior.max_vertical_offset_px`` is refused: it was not rectified (or with another calibration).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.sparse_stereo import sparse_disparity_field, sparse_stereo_flow

__all__ = [
    "VerticalModel",
    "align_right_rows",
    "checked_vertical_model",
    "estimate_vertical_model",
    "fit_vertical_model",
    "sparse_disparity_field",
    "sparse_stereo_flow",
]

F32 = NDArray[np.float32]
TERMS = 6
"""Number of model coefficients."""


def _basis(x: F32, y: F32, disparity: F32, width: int, height: int) -> list[F32]:
    u = np.float32(2.0 / width) * x - np.float32(1.0)
    v = np.float32(2.0 / height) * y - np.float32(1.0)
    return [np.ones_like(u), u, v, u * v, v * v, np.float32(2.0 / width) * disparity]


@dataclass(frozen=True)
class VerticalModel:
    """``dy(x, y, d) = y_left - y_right`` in pixels of a ``width`` x ``height`` pair (see module docstring)."""

    coefficients: NDArray[np.float64]
    """(6,) c0..c5, pixels."""
    width: int
    height: int
    matches: int = 0
    """Sparse matches the model was fitted to (0: not estimated)."""
    median_abs_offset_px: float = 0.0
    """Median ``|dy|`` of those matches before correction, in pixels."""
    residual_px: float = 0.0
    """Robust spread (1.4826 MAD) of the matches' ``dy`` about the model, in pixels."""

    @staticmethod
    def identity(width: int, height: int) -> VerticalModel:
        """No vertical offset."""
        return VerticalModel(np.zeros(TERMS), width, height)

    @property
    def is_identity(self) -> bool:
        """True when every coefficient is zero."""
        return not np.any(self.coefficients)

    def offset(self, x: F32, y: F32, disparity: F32) -> F32:
        """``dy`` (same shape as the inputs) at left pixels ``(x, y)`` with disparity ``disparity``, pixels."""
        terms = _basis(x, y, disparity, self.width, self.height)
        total = np.zeros(np.broadcast(x, y, disparity).shape, np.float32)
        for coefficient, term in zip(self.coefficients, terms, strict=True):
            if coefficient != 0.0:
                total += np.float32(coefficient) * term
        return total

    def scaled(self, width: int, height: int) -> VerticalModel:
        """The same model for the pair resampled to ``width`` x ``height`` (offsets scale with the image)."""
        factor = height / self.height
        return VerticalModel(
            self.coefficients * factor,
            width,
            height,
            self.matches,
            self.median_abs_offset_px * factor,
            self.residual_px * factor,
        )


def fit_vertical_model(
    points: F32,
    disparity: F32,
    dy: F32,
    *,
    width: int,
    height: int,
    min_matches: int = 12,
    negligible_px: float = 0.25,
) -> VerticalModel:
    """Robust least-squares fit of :class:`VerticalModel` to matches (N, 2), (N,), (N,).

    Iteratively reweighted: matches more than 3 robust standard deviations (at least 0.6 px) from
    the fit are left out. Fewer than ``min_matches`` matches give a constant offset (their median),
    fewer than 30 a plane in (x, y); the higher terms are lightly damped towards zero so that they
    stay small where the matches do not constrain them. A model whose offset stays below
    ``negligible_px`` everywhere (image corners, the matches) is returned as zero: the rows already
    agree, and resampling the right image would only blur it.
    """
    count = len(dy)
    if count == 0:
        return VerticalModel.identity(width, height)
    median_abs = float(np.median(np.abs(dy)))
    if count < min_matches:
        coefficients = np.zeros(TERMS)
        coefficients[0] = float(np.median(dy))
        return VerticalModel(coefficients, width, height, count, median_abs)
    used = TERMS if count >= 30 else 3
    design = np.stack(_basis(points[:, 0], points[:, 1], disparity, width, height), axis=1)[:, :used].astype(np.float64)
    target = dy.astype(np.float64)
    damping = np.sqrt(max(count, 1) * 1e-3) * np.eye(used)[1:]
    inliers = np.ones(count, bool)
    coefficients = np.zeros(used)
    spread = 0.0
    for _ in range(6):
        if inliers.sum() < used + 2:
            break
        system = np.vstack([design[inliers], damping])
        rhs = np.concatenate([target[inliers], np.zeros(used - 1)])
        coefficients = np.linalg.lstsq(system, rhs, rcond=None)[0]
        residual = target - design @ coefficients
        spread = float(1.4826 * np.median(np.abs(residual[inliers])))
        updated = np.abs(residual) <= 3.0 * max(spread, 0.2)
        if np.array_equal(updated, inliers):
            break
        inliers = updated
    full = np.zeros(TERMS)
    full[:used] = coefficients
    model = VerticalModel(full, width, height, int(inliers.sum()), median_abs, spread)
    if negligible_px > 0 and _largest_offset(model, points, disparity) < negligible_px:
        return VerticalModel(np.zeros(TERMS), width, height, model.matches, median_abs, spread)
    return model


def _largest_offset(model: VerticalModel, points: F32, disparity: F32) -> float:
    """Largest ``|dy|`` the model predicts over the image corners and the matches' disparities."""
    low, high = (float(np.min(disparity)), float(np.max(disparity))) if len(disparity) else (0.0, 0.0)
    x = np.array([0, model.width - 1] * 4, np.float32)
    y = np.array([0, 0, model.height - 1, model.height - 1] * 2, np.float32)
    d = np.array([low] * 4 + [high] * 4, np.float32)
    corners = model.offset(x, y, d)
    matched = model.offset(points[:, 0], points[:, 1], disparity) if len(disparity) else corners
    return float(max(np.max(np.abs(corners)), np.max(np.abs(matched))))


def estimate_vertical_model(
    grey_left: NDArray[np.uint8],
    grey_right: NDArray[np.uint8],
    *,
    min_disparity: float,
    max_disparity: float,
    max_offset_px: float,
    scale_to_input: float = 1.0,
) -> tuple[VerticalModel, F32, F32]:
    """Vertical model of a grey pair (H, W), with the matches' left points (N, 2) and disparities (N,).

    ``scale_to_input`` converts this pair's pixels to those of the caller's images (for the error
    message and the ``max_offset_px`` test, which are in input pixels). Raises :class:`FrontendError`
    when the matches' median ``|dy|`` exceeds ``max_offset_px``: the pair is not rectified.
    """
    height, width = grey_left.shape
    points, disparity, dy = sparse_stereo_flow(
        grey_left, grey_right, min_disparity=min_disparity, max_disparity=max_disparity
    )
    model = checked_vertical_model(
        points, disparity, dy, width=width, height=height, max_offset_px=max_offset_px, scale_to_input=scale_to_input
    )
    return model, points, disparity


def checked_vertical_model(
    points: F32,
    disparity: F32,
    dy: F32,
    *,
    width: int,
    height: int,
    max_offset_px: float,
    scale_to_input: float = 1.0,
) -> VerticalModel:
    """:func:`fit_vertical_model` of sparse matches, refusing a pair that is not rectified.

    Raises :class:`FrontendError` when the matches' median ``|dy|`` exceeds ``max_offset_px``
    (input pixels; ``scale_to_input`` input pixels per pixel here).
    """
    model = fit_vertical_model(points, disparity, dy, width=width, height=height)
    offset_input = model.median_abs_offset_px * scale_to_input
    if model.matches >= 12 and offset_input > max_offset_px:
        raise FrontendError(
            f"the pair does not look rectified: {model.matches} sparse matches have a median vertical offset "
            f"|y_left - y_right| of {offset_input:.1f} px (depth_prior.max_vertical_offset_px is "
            f"{max_offset_px:g}); rectify it with its calibration first"
        )
    return model


def align_right_rows(grey_right: NDArray[np.uint8], model: VerticalModel, disparity: F32) -> NDArray[np.uint8]:
    """The right image (H, W) resampled so that its rows line up with the left rows.

    ``disparity`` (H, W) is a smooth estimate on the left grid (e.g. :func:`sparse_disparity_field`);
    right pixel ``(x, y)`` takes the value at ``y - dy(x + d, y, d)``.
    """
    if model.is_identity:
        return grey_right
    height, width = grey_right.shape[:2]
    x = np.arange(width, dtype=np.float32)[None, :].repeat(height, axis=0)
    y = np.arange(height, dtype=np.float32)[:, None].repeat(width, axis=1)
    shift = model.offset(x + disparity, y, disparity)
    return cv2.remap(grey_right, x, y - shift, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
