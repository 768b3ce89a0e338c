"""Confidence of a depth prior: per-cue confidences, multi-view consistency and the combined verdict.

Cues, each a (H, W) map in [0, 1]:

- left-right consistency: ``exp(-0.5 (e / (tol / 2))^2)`` of the disagreement ``e`` between the left
  disparity and the right disparity at the match (:func:`left_right_check`; backends fold it in);
- texture: ``1 - exp(-(g / scale)^2)`` of the local RMS image gradient ``g`` (grey levels per pixel);
- multi-view consistency: the prior projected into neighbouring keyframes (their priors and relative
  poses) and compared with their depth, ``exp(-0.5 (r / tol)^2)`` of the median relative error ``r``.

:func:`assess_prior` multiplies the backend's confidence with these, zeroes the rejected pixels
(:class:`~stereo_nerf_core.frontend.masks.Reason`: no match, out of range, specular, instrument,
background, low confidence, multi-view disagreement) and returns the reason bits for each pixel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.masks import (
    Reason,
    background_mask,
    instrument_mask,
    out_of_range_mask,
    reason_names,
    specular_mask,
)
from stereo_nerf_core.geometry.depth_maps import backproject

F32 = NDArray[np.float32]


def left_right_check(
    disparity_left: F32, disparity_right: F32, *, max_diff_px: float, min_disparity: float = 0.0
) -> tuple[F32, NDArray[np.bool_], NDArray[np.bool_]]:
    """Left-right consistency of a left- and a right-reference disparity map (H, W), pixels.

    Returns the disagreement ``|d_l(x) - d_r(x - d_l(x))|`` (inf where the left pixel has no match),
    the consistent pixels (disagreement <= ``max_diff_px``) and the occluded ones (the match lies
    outside the right image, or the right image gives it to a nearer surface: ``d_r > d_l + tol``).
    Disparities below ``min_disparity`` mean "no match".
    """
    if disparity_left.shape != disparity_right.shape:
        raise FrontendError(
            f"left and right disparities differ in shape: {disparity_left.shape} vs {disparity_right.shape}"
        )
    height, width = disparity_left.shape
    found = disparity_left >= min_disparity
    columns = np.arange(width, dtype=np.float32)[None, :] - disparity_left
    match_x = np.clip(np.rint(columns), 0, width - 1).astype(np.intp)
    right_at_match = disparity_right[np.arange(height)[:, None], match_x]
    inside = columns >= 0
    matched = found & inside & (right_at_match >= min_disparity)
    disagreement = np.where(matched, np.abs(disparity_left - right_at_match), np.inf).astype(np.float32)
    consistent = disagreement <= max_diff_px
    occluded = found & (~inside | (matched & (right_at_match > disparity_left + max_diff_px)))
    return disagreement, consistent, occluded


def lr_confidence(disagreement: F32, *, max_diff_px: float) -> F32:
    """(H, W) confidence in [0, 1] from a left-right disagreement map (inf gives 0)."""
    scale = 0.5 * max(max_diff_px, 1e-3)
    return np.exp(-0.5 * np.square(np.minimum(disagreement, 1e3) / scale)).astype(np.float32)


def texture_confidence(image: NDArray[np.uint8], *, window: int = 7, scale: float = 3.0) -> F32:
    """(H, W) ``1 - exp(-(g / scale)^2)`` of the RMS gradient ``g`` (grey levels/px) in a ``window`` box."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    values = grey.astype(np.float32)
    gx = cv2.Sobel(values, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(values, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    energy = cv2.boxFilter(gx * gx + gy * gy, -1, (window, window))
    return (1.0 - np.exp(-energy / np.float32(scale * scale))).astype(np.float32)


@dataclass(frozen=True)
class NeighbourPrior:
    """A neighbouring keyframe's prior, for multi-view consistency."""

    depth: F32
    """(H', W') its depth in metres (0 or NaN: none), rectified left grid."""
    K: NDArray[np.float64]
    """(3, 3) its rectified intrinsics."""
    T_neighbour_reference: NDArray[np.float64]
    """(4, 4) maps points of the reference camera frame into the neighbour's camera frame."""


def multiview_error(
    depth: F32, K: NDArray[np.float64], neighbours: Sequence[NeighbourPrior]
) -> tuple[F32, NDArray[np.int32]]:
    """Median relative depth disagreement (H, W) of ``depth`` with its neighbours, and how many see each pixel.

    Each pixel with depth is back-projected, moved into a neighbour's frame and projected; where the
    neighbour has depth ``z_n`` at that pixel (nearest), the error is ``|z - z_n| / z`` with ``z`` the
    point's depth in the neighbour. NaN where no neighbour sees the pixel. Occlusions count as
    disagreement in the neighbour that does not see the surface; the median over several neighbours
    tolerates that.
    """
    height, width = depth.shape
    K = np.asarray(K, np.float64)
    z = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)
    points = backproject(z, K)
    errors = []
    for neighbour in neighbours:
        T = np.asarray(neighbour.T_neighbour_reference, np.float64)
        if T.shape != (4, 4):
            raise FrontendError(f"T_neighbour_reference must be (4, 4), got {T.shape}")
        moved = points @ T[:3, :3].T.astype(np.float32) + T[:3, 3].astype(np.float32)
        zn = moved[..., 2]
        ahead = (z > 0) & (zn > 1e-6)
        safe = np.where(ahead, zn, 1.0)
        Kn = np.asarray(neighbour.K, np.float64)
        map_x = (np.float32(Kn[0, 0]) * moved[..., 0] / safe + np.float32(Kn[0, 2])).astype(np.float32)
        map_y = (np.float32(Kn[1, 1]) * moved[..., 1] / safe + np.float32(Kn[1, 2])).astype(np.float32)
        other = np.nan_to_num(np.asarray(neighbour.depth, np.float32), nan=0.0)
        sampled = cv2.remap(other, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        seen = ahead & (sampled > 0)
        errors.append(np.where(seen, np.abs(zn - sampled) / safe, np.nan).astype(np.float32))
    if not errors:
        return np.full((height, width), np.nan, np.float32), np.zeros((height, width), np.int32)
    stack = np.stack(errors)
    views = np.sum(np.isfinite(stack), axis=0).astype(np.int32)
    with np.errstate(all="ignore"):
        median = np.where(views > 0, np.nanmedian(np.where(views > 0, stack, 0.0), axis=0), np.nan)
    return median.astype(np.float32), views


@dataclass(frozen=True)
class ConfidenceSettings:
    """Thresholds of :func:`assess_prior` (defaults suit endoscopic tissue)."""

    specular_min_value: float = 0.90
    specular_max_saturation: float = 0.25
    specular_dilate_px: int = 2
    background_max_value: int = 8
    """Brightest-channel value (0-255) at or below which a pixel is background."""
    texture_window: int = 7
    texture_scale: float = 3.0
    """RMS gradient (grey levels/px) at which texture confidence reaches 0.63."""
    min_confidence: float = 0.05
    """Combined confidence below this rejects the pixel (LOW_CONFIDENCE)."""
    multiview_tolerance: float = 0.02
    """Relative depth disagreement with neighbours that halves confidence about every 1.2 tolerances."""
    multiview_reject: float = 0.06
    """Median relative disagreement above which the pixel is rejected (MULTIVIEW)."""


@dataclass(frozen=True)
class PriorAssessment:
    """Combined confidence and rejection reasons of a prior."""

    confidence: F32
    """(H, W) in [0, 1]; 0 where rejected."""
    reasons: NDArray[np.uint8]
    """(H, W) bits of :class:`~stereo_nerf_core.frontend.masks.Reason`; 0 where the pixel is kept."""

    @property
    def valid(self) -> NDArray[np.bool_]:
        """(H, W) pixels kept."""
        return self.reasons == 0

    def mask(self, reason: Reason) -> NDArray[np.bool_]:
        """(H, W) pixels rejected (among other causes) for ``reason``."""
        return (self.reasons & np.uint8(reason)) != 0

    def shares(self) -> dict[str, float]:
        """Share of pixels rejected for each reason (a pixel may count for several), and kept."""
        total = max(self.reasons.size, 1)
        shares = {reason.name or str(int(reason)): float(self.mask(reason).sum() / total) for reason in Reason}
        shares["kept"] = float(self.valid.sum() / total)
        return shares


def assess_prior(
    prior: DepthPrior,
    left: NDArray[np.uint8],
    *,
    min_depth_m: float,
    max_depth_m: float,
    instrument: ArrayLike | None = None,
    neighbours: Sequence[NeighbourPrior] = (),
    K: NDArray[np.float64] | None = None,
    settings: ConfidenceSettings | None = None,
) -> PriorAssessment:
    """Combined confidence and per-pixel rejection reasons of ``prior`` on its rectified left image (H, W, 3).

    ``instrument`` is the rectified instrument mask (H, W), when the instrument topic has one;
    ``neighbours`` with ``K`` (3, 3) (the reference's rectified intrinsics) add multi-view consistency.
    """
    settings = settings or ConfidenceSettings()
    shape = prior.depth.shape
    if left.shape[:2] != shape:
        raise FrontendError(f"left image is {left.shape[:2]}, the prior is {shape}")
    if neighbours and K is None:
        raise FrontendError("multi-view consistency needs K, the reference keyframe's rectified intrinsics")
    reasons = np.zeros(shape, np.uint8)
    has_depth = prior.depth > 0

    def flag(mask: NDArray[np.bool_], reason: Reason) -> None:
        reasons[mask] |= np.uint8(reason)

    flag(~has_depth, Reason.NO_MATCH)
    flag(out_of_range_mask(prior.depth, min_depth_m=min_depth_m, max_depth_m=max_depth_m), Reason.OUT_OF_RANGE)
    if left.ndim == 3:
        flag(
            specular_mask(
                left,
                min_value=settings.specular_min_value,
                max_saturation=settings.specular_max_saturation,
                dilate_px=settings.specular_dilate_px,
            ),
            Reason.SPECULAR,
        )
    flag(instrument_mask(instrument, shape), Reason.INSTRUMENT)
    flag(background_mask(left, max_value=settings.background_max_value), Reason.BACKGROUND)
    confidence = prior.confidence * texture_confidence(
        left, window=settings.texture_window, scale=settings.texture_scale
    )
    if neighbours:
        assert K is not None
        error, views = multiview_error(prior.depth, K, neighbours)
        seen = views > 0
        agreement = np.exp(-0.5 * np.square(np.where(seen, error, 0.0) / settings.multiview_tolerance))
        confidence = confidence * agreement.astype(np.float32)
        flag(seen & (np.nan_to_num(error, nan=0.0) > settings.multiview_reject), Reason.MULTIVIEW)
    flag(has_depth & (confidence < settings.min_confidence), Reason.LOW_CONFIDENCE)
    confidence = np.where(reasons == 0, np.clip(confidence, 0.0, 1.0), 0.0).astype(np.float32)
    return PriorAssessment(confidence, reasons)


__all__ = [
    "ConfidenceSettings",
    "NeighbourPrior",
    "PriorAssessment",
    "assess_prior",
    "left_right_check",
    "lr_confidence",
    "multiview_error",
    "reason_names",
    "texture_confidence",
]
