"""Image-guided hole filling of a disparity map, with a confidence that falls off away from real matches.

Holes (no match, failed left-right check, removed speckles) are filled by edge-aware normalised
convolution: the matched disparities and their indicator are both smoothed with the domain-transform
filter guided by the left image (``cv2.ximgproc.dtFilter``, recursive mode), and their ratio is the
fill. Smoothing stops at image edges, so a hole takes the disparity of the surface it lies on rather
than an average across an occlusion boundary. Two spatial scales (16 and 128 px) fill small holes
from near neighbours first; what the wider scale cannot reach takes the median matched disparity.
The same filter gives the weighted standard deviation of the matches each fill averages (its
*spread*): where they disagree (a depth edge the image does not show, conflicting matches on a
reflective surface) the fill is a guess, and a backend can leave it empty (``max_spread_px``).
Pixels outside the image content (the black border that rectification leaves) are not filled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]

_SCALES_PX = (16.0, 128.0)
_SIGMA_COLOR = 20.0


@dataclass(frozen=True)
class FilledDisparity:
    """A disparity map with its holes filled."""

    disparity: F32
    """(H, W) pixels; matched pixels keep their value, 0 outside the image content."""
    filled: NDArray[np.bool_]
    """(H, W) pixels whose value comes from filling."""
    distance_px: F32
    """(H, W) distance to the nearest matched pixel (0 on matched pixels), pixels."""
    spread_px: F32
    """(H, W) weighted standard deviation of the matched disparities a filled pixel averages (0 on matched
    pixels; where only the median reached, the standard deviation of all matches), pixels."""


def image_content(image: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """(H, W) pixels inside the image content: not part of an exactly black (0) border region."""
    grey = image if image.ndim == 2 else cv2.max(cv2.max(image[..., 0], image[..., 1]), image[..., 2])
    black = (grey == 0).astype(np.uint8)
    # a black run is border when it touches the image edge; isolated black pixels inside stay content
    count, labels, stats, _ = cv2.connectedComponentsWithStats(black, connectivity=4)
    height, width = grey.shape
    border = np.zeros(count, bool)
    if count > 1:
        x, y, w, h = stats[1:, 0], stats[1:, 1], stats[1:, 2], stats[1:, 3]
        border[1:] = (x == 0) | (y == 0) | (x + w == width) | (y + h == height)
    return ~border[labels]


def fill_disparity(
    disparity: F32,
    valid: NDArray[np.bool_],
    guide: NDArray[np.uint8],
    *,
    content: NDArray[np.bool_] | None = None,
) -> FilledDisparity:
    """Fill the pixels of ``disparity`` (H, W) outside ``valid`` (H, W), guided by ``guide`` (H, W[, 3]) uint8.

    ``content`` (H, W) limits the filling (default: :func:`image_content` of the guide).
    """
    inside = image_content(guide) if content is None else content
    known = valid & inside
    out = np.where(known, disparity, 0).astype(np.float32)
    missing = inside & ~known
    distance = np.zeros(disparity.shape, np.float32)
    spread = np.zeros(disparity.shape, np.float32)
    if not known.any():
        return FilledDisparity(out, np.zeros_like(valid), distance, spread)
    if missing.any():
        reference = np.float32(np.median(disparity[known]))
        weight = known.astype(np.float32)
        centred = np.where(known, out - reference, 0).astype(np.float32)  # small values keep the variance exact
        stacked = np.dstack([centred * weight, weight, centred * centred * weight])
        for scale in _SCALES_PX:
            smoothed = cv2.ximgproc.dtFilter(guide, stacked, scale, _SIGMA_COLOR, mode=cv2.ximgproc.DTF_RF, numIters=2)
            reached = missing & (smoothed[..., 1] > 1e-3)
            total = smoothed[..., 1][reached]
            mean = smoothed[..., 0][reached] / total
            out[reached] = mean + reference
            spread[reached] = np.sqrt(np.maximum(smoothed[..., 2][reached] / total - mean * mean, 0.0))
            missing &= ~reached
            if not missing.any():
                break
        out[missing] = reference  # the median of all matches, with their spread
        spread[missing] = float(np.std(disparity[known]))
        distance = cv2.distanceTransform((~known).astype(np.uint8), cv2.DIST_L2, 3).astype(np.float32)
    filled = inside & ~known
    zero = np.float32(0)
    return FilledDisparity(out, filled, np.where(filled, distance, zero), np.where(filled, spread, zero))


FILL_HALF_DISTANCE_PX = 7.0
"""Distance (input pixels) from the nearest match over which a filled pixel's confidence halves."""


def fill_with_confidence(
    disparity: F32,
    matched: NDArray[np.bool_],
    confidence: F32,
    guide: NDArray[np.uint8],
    *,
    filled_confidence: float,
    pixel_scale: float = 1.0,
    max_spread_px: float = 0.0,
) -> tuple[F32, NDArray[np.bool_], F32]:
    """:func:`fill_disparity` for a backend: (disparity, filled pixels, confidence), all (H, W).

    A filled pixel gets ``filled_confidence`` next to a match, halving every
    :data:`FILL_HALF_DISTANCE_PX` input pixels further away (``pixel_scale`` input pixels per pixel
    here); one whose match would leave the right image (``x < d``) has no stereo evidence and stays
    empty (0), and so does one whose fill's spread exceeds ``max_spread_px`` input pixels (0: no
    limit). Matched pixels keep their disparity and confidence.
    """
    result = fill_disparity(disparity, matched, guide, content=image_content(guide))
    width = disparity.shape[1]
    filled = result.filled & (np.arange(width, dtype=np.float32)[None, :] >= result.disparity)
    if max_spread_px > 0:
        filled &= result.spread_px * np.float32(pixel_scale) <= max_spread_px
    values = np.where(matched | filled, result.disparity, 0).astype(np.float32)
    distance = result.distance_px * np.float32(pixel_scale)
    decay = np.exp2(-np.maximum(distance - 1.0, 0.0) / FILL_HALF_DISTANCE_PX)
    return values, filled, np.where(filled, filled_confidence * decay, confidence).astype(np.float32)
