"""``depth_prior.backend: seeded``: a dense prior grown from reliable sparse matches (match-seeded refinement).

Per rectified pair (H, W[, 3]) uint8:

1. seeds: SIFT features matched with Lowe's ratio test and a mutual check
   (:mod:`~stereo_nerf_core.frontend.matching`); the rows' residual misalignment is fitted to them
   (:mod:`~stereo_nerf_core.frontend.vertical`) and a match is kept when its vertical offset is within
   1 px of that fit (epipolar filter) and its disparity within the depth range. No seed left is a
   :class:`FrontendError`: this scene needs ``backend: sgbm``;
2. the seeds' disparities are interpolated linearly (Delaunay) into a guide, and the normalised
   cross-correlation (NCC, 7x7, right rows aligned) is evaluated for ``guide + k``, ``|k| <= 12``;
   each seed pixel searches only ``d +- seed_search_px`` around its own matched disparity ``d``;
3. growing, best first: from the seed pixels the region grows into 8-neighbours, a new pixel
   taking its best neighbour's disparity step ``k`` or one either side (smooth surfaces), whichever
   correlates best; it joins when its NCC reaches the current level and the peak is not at the
   band's edge. Levels fall from 0.9 to ``seed_min_ncc`` (a watershed-like order: well-textured,
   well-matched areas grow first);
4. sub-pixel: parabola through the NCC of ``k - 1, k, k + 1``, then Gauss-Newton refinement;
5. with ``fill_holes``, ungrown pixels are filled as for ``sgbm`` (marked, lower confidence).

Confidence: ``(ncc - seed_min_ncc) / (1 - seed_min_ncc)`` on grown pixels.
Speed: about 0.6-0.8 s of CPU per 640x512 pair (SIFT a third of it, growing another): for keyframes and
offline use, not the live rate (``sgbm`` is the live default).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import Delaunay

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior, register_prior_backend
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.hole_filling import fill_with_confidence, image_content
from stereo_nerf_core.frontend.refine import grey, pixel_grid, refine_subpixel
from stereo_nerf_core.frontend.sgbm import check_rectified_pair, disparity_search_range
from stereo_nerf_core.frontend.vertical import VerticalModel, fit_vertical_model
from stereo_nerf_core.geometry.camera import StereoCalibration

F32 = NDArray[np.float32]
NCC_WINDOW = 7
LEVELS = (0.9, 0.8, 0.7, 0.6)
GROWTH_RADIUS_PX = 12
"""The NCC band spans the seeds' interpolation +- this many pixels; growth can follow surfaces that far."""
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def stereo_seeds(
    grey_left: NDArray[np.uint8], grey_right: NDArray[np.uint8], *, min_disparity: float, max_disparity: float
) -> tuple[F32, F32, VerticalModel, int]:
    """Seeds of a grey pair (H, W): left points (N, 2), disparities (N,), the rows' vertical model and
    the number of ratio-test matches before the epipolar and range filters."""
    from stereo_nerf_core.frontend.matching import detect_sift, match_descriptors

    height, width = grey_left.shape
    features_left = detect_sift(grey_left, max_features=2000, contrast_threshold=0.02)
    features_right = detect_sift(grey_right, max_features=2000, contrast_threshold=0.02)
    index_left, index_right, _, _ = match_descriptors(
        features_left.descriptors, features_right.descriptors, ratio=0.8, mutual_check=True
    )
    points = features_left.keypoints[index_left]
    right_points = features_right.keypoints[index_right]
    disparity = (points[:, 0] - right_points[:, 0]).astype(np.float32)
    dy = (points[:, 1] - right_points[:, 1]).astype(np.float32)
    plausible = (np.abs(dy) <= 0.1 * height) & (disparity >= min_disparity) & (disparity <= max_disparity)
    model = fit_vertical_model(points[plausible], disparity[plausible], dy[plausible], width=width, height=height)
    epipolar = np.abs(dy - model.offset(points[:, 0], points[:, 1], disparity)) <= 1.0
    keep = plausible & epipolar
    return points[keep].astype(np.float32), disparity[keep], model, len(disparity)


def _guide(points: F32, disparity: F32, width: int, height: int) -> F32:
    """Linear interpolation of the seeds over their Delaunay triangles (rasterised plane by plane);
    outside the triangles, the disparity of the nearest seed."""
    seeds = np.unique(np.round(points.astype(np.float64), 3), axis=0, return_index=True)[1]
    points, disparity = points[seeds], disparity[seeds]
    nearest_label = np.zeros((height, width), np.int32)
    columns, rows = pixel_grid(height, width)
    if len(points) >= 3 and np.linalg.matrix_rank(points - points.mean(axis=0)) >= 2:
        triangles = Delaunay(points).simplices
        labels = np.full((height, width), -1, np.int32)
        corners = points[triangles].astype(np.float64)  # (T, 3, 2)
        design = np.concatenate([corners, np.ones((len(triangles), 3, 1))], axis=2)
        planes = np.linalg.solve(design + 1e-9 * np.eye(3), disparity[triangles].astype(np.float64)[..., None])[..., 0]
        for number, corner in enumerate(np.rint(corners).astype(np.int32)):
            cv2.fillConvexPoly(labels, corner, number)
        inside = labels >= 0
        plane = planes[np.maximum(labels, 0)]
        linear = plane[..., 0] * columns + plane[..., 1] * rows + plane[..., 2]
    else:
        inside = np.zeros((height, width), bool)
        linear = np.zeros((height, width))
    # nearest seed for the rest: a distance transform's labels over the seed pixels
    marks = np.ones((height, width), np.uint8)
    pixel = np.clip(np.rint(points).astype(np.intp), 0, [width - 1, height - 1])
    marks[pixel[:, 1], pixel[:, 0]] = 0
    _, nearest_label = cv2.distanceTransformWithLabels(marks, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    label_value = np.zeros(int(nearest_label.max()) + 1, np.float32)
    label_value[nearest_label[pixel[:, 1], pixel[:, 0]]] = disparity
    nearest = label_value[nearest_label]
    return np.where(inside, linear, nearest).astype(np.float32)


def _ncc_band(left: F32, right: F32, guide: F32, offset: F32, radius: int) -> F32:
    """(2 radius + 1, H, W) NCC of left windows with the right image warped by ``guide + k``."""
    size = (NCC_WINDOW, NCC_WINDOW)
    mean_left = cv2.blur(left, size)
    var_left = cv2.blur(left * left, size) - mean_left * mean_left
    columns, rows = pixel_grid(*left.shape)
    rows = rows - offset
    band = []
    for k in range(-radius, radius + 1):
        warped = cv2.remap(
            right, columns - guide - np.float32(k), rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        mean_right = cv2.blur(warped, size)
        var_right = cv2.blur(warped * warped, size) - mean_right * mean_right
        covariance = cv2.blur(left * warped, size) - mean_left * mean_right
        band.append(covariance / np.sqrt(np.maximum(var_left * var_right, 1e-2)))
    return np.clip(np.stack(band), -1.0, 1.0).astype(np.float32)


def grow_from_seeds(
    band: F32,
    seeds: NDArray[np.intp],
    *,
    min_ncc: float,
    allowed: NDArray[np.bool_],
    seed_index: NDArray[np.intp] | None = None,
    seed_radius: int = 3,
) -> tuple[NDArray[np.int16], F32]:
    """Best-first growth over an NCC band (K, H, W) from seed pixels (N, 2) as (x, y).

    Returns the chosen band index (H, W) (-1: not grown) and its NCC. A pixel joins next to a grown
    neighbour, taking the best-correlating index among its best neighbour's and one either side, when
    that NCC reaches the current level and the index is not at the band's edge (the true disparity
    may lie beyond it); a pixel that fails is retried whenever a new neighbour joins.
    Levels fall from 0.9 to ``min_ncc``. Only ``allowed`` (H, W) pixels grow.
    """
    count, height, width = band.shape
    stride = width + 2
    flat_band = np.pad(band, ((0, 0), (1, 1), (1, 1)), constant_values=-1.0).reshape(count, -1)
    index = np.full((height + 2) * stride, -1, np.int16)
    score = np.full((height + 2) * stride, -np.inf, np.float32)
    pending = np.pad(allowed, 1, constant_values=False).ravel().copy()
    offsets = np.array([dy * stride + dx for dy, dx in _NEIGHBOURS], np.intp)
    flat_seeds, first = np.unique((seeds[:, 1] + 1) * stride + seeds[:, 0] + 1, return_index=True)
    centre = np.full(len(flat_seeds), count // 2, np.intp) if seed_index is None else seed_index[first]
    usable = pending[flat_seeds]
    flat_seeds, centre = flat_seeds[usable], centre[usable]
    window = np.clip(centre[None, :] + np.arange(-seed_radius, seed_radius + 1)[:, None], 0, count - 1)
    values = flat_band[window, flat_seeds[None, :]]
    best = window[np.argmax(values, axis=0), np.arange(len(flat_seeds))]
    value = flat_band[best, flat_seeds]
    good = (value >= min_ncc) & (best > 0) & (best < count - 1)
    index[flat_seeds[good]] = best[good]
    score[flat_seeds[good]] = value[good]
    pending[flat_seeds[good]] = False
    steps = np.array([-1, 0, 1], np.intp)
    for level in (*[lv for lv in LEVELS if lv > min_ncc], min_ncc):
        grown = np.nonzero(index >= 0)[0]
        frontier = _pending_neighbours(grown, offsets, pending)
        while frontier.size:
            neighbours = frontier[:, None] + offsets[None, :]
            chosen = np.argmax(score[neighbours], axis=1)
            base = index[neighbours[np.arange(len(frontier)), chosen]].astype(np.intp)
            candidates = np.clip(base[:, None] + steps[None, :], 0, count - 1)
            values = flat_band[candidates, frontier[:, None]]
            pick = np.argmax(values, axis=1)
            best_value = values[np.arange(len(frontier)), pick]
            chosen_index = candidates[np.arange(len(frontier)), pick]
            # the peak must lie inside the band: at its edge the true disparity may lie beyond it
            accept = (best_value >= level) & (chosen_index > 0) & (chosen_index < count - 1)
            joined = frontier[accept]
            index[joined] = candidates[accept, pick[accept]]
            score[joined] = best_value[accept]
            pending[joined] = False
            frontier = _pending_neighbours(joined, offsets, pending)
    shape = (height + 2, width + 2)
    index_map = index.reshape(shape)[1:-1, 1:-1]
    score_map = np.where(index_map >= 0, score.reshape(shape)[1:-1, 1:-1], 0).astype(np.float32)
    return index_map.copy(), score_map


def _pending_neighbours(
    pixels: NDArray[np.intp], offsets: NDArray[np.intp], pending: NDArray[np.bool_]
) -> NDArray[np.intp]:
    """Unique flat indices of the pending 8-neighbours of ``pixels`` (flat indices of the padded grid)."""
    if pixels.size == 0:
        return pixels
    around = (pixels[:, None] + offsets[None, :]).ravel()
    return np.unique(around[pending[around]])


def _grow_pass(
    left: F32,
    right: F32,
    guide: F32,
    model: VerticalModel,
    seeds: NDArray[np.intp],
    seed_disparity: F32,
    *,
    radius: int,
    seed_radius: int,
    min_ncc: float,
    allowed: NDArray[np.bool_],
) -> tuple[F32, NDArray[np.bool_], F32]:
    """One growth over the NCC band ``guide +- radius`` (H, W), seeds searched within ``+- seed_radius`` of
    their own disparity: sub-pixel disparity, grown pixels, NCC."""
    columns, rows = pixel_grid(*left.shape)
    band = _ncc_band(left, right, guide, model.offset(columns, rows, guide), radius)
    seed_index = np.rint(seed_disparity - guide[seeds[:, 1], seeds[:, 0]]).astype(np.intp) + radius
    index, ncc = grow_from_seeds(
        band, seeds, min_ncc=min_ncc, allowed=allowed, seed_index=seed_index, seed_radius=seed_radius
    )
    grown = index >= 0
    safe = np.clip(index, 1, 2 * radius - 1).astype(np.intp)
    c0 = np.take_along_axis(band, (safe - 1)[None], 0)[0]
    c1 = np.take_along_axis(band, safe[None], 0)[0]
    c2 = np.take_along_axis(band, (safe + 1)[None], 0)[0]
    curvature = c0 - 2.0 * c1 + c2
    vertex = np.where(curvature < -1e-6, 0.5 * (c0 - c2) / np.minimum(curvature, -1e-6), 0.0)
    vertex = np.where(grown, np.clip(vertex, -0.5, 0.5), 0.0)
    disparity = np.where(grown, guide + (index - radius) + vertex, 0).astype(np.float32)
    return disparity, grown, ncc


def seeded_depth_prior(
    left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration, config: DepthPriorConfig
) -> DepthPrior:
    """The seeded prior (see the module docstring) of a rectified uint8 pair (H, W[, 3])."""
    check_rectified_pair(left, right, calibration)
    grey_left, grey_right = grey(left), grey(right)
    height, width = grey_left.shape
    low, count = disparity_search_range(calibration, config)
    points, disparity, model, candidates = stereo_seeds(
        grey_left, grey_right, min_disparity=low, max_disparity=low + count
    )
    if len(disparity) == 0:
        raise FrontendError(
            f"seeded prior: no reliable sparse matches ({candidates} SIFT ratio-test matches, none on the "
            f"epipolar line within the depth range {config.min_depth_m}-{config.max_depth_m} m); "
            "use depth_prior.backend: sgbm for this scene"
        )
    radius = max(GROWTH_RADIUS_PX, config.seed_search_px + 1)
    columns, rows = pixel_grid(height, width)
    guide = _guide(points, disparity, width, height)
    seed_pixels = np.clip(np.rint(points).astype(np.intp), 0, [width - 1, height - 1])
    content = image_content(grey_left)
    result, grown, ncc = _grow_pass(
        grey_left.astype(np.float32),
        grey_right.astype(np.float32),
        guide,
        model,
        seed_pixels,
        disparity,
        radius=radius,
        seed_radius=config.seed_search_px,
        min_ncc=config.seed_min_ncc,
        allowed=content & (columns - guide + radius >= 0),
    )
    confidence = np.clip((ncc - config.seed_min_ncc) / max(1.0 - config.seed_min_ncc, 1e-3), 0.0, 1.0)
    filled = np.zeros_like(grown)
    if config.fill_holes:
        result, filled, confidence = fill_with_confidence(
            result,
            grown,
            confidence,
            left,
            filled_confidence=config.filled_confidence,
            max_spread_px=config.fill_max_spread_px,
        )
    if config.subpixel_refinement:
        result = refine_subpixel(grey_left, grey_right, result, vertical_offset=model.offset(columns, rows, result))
    depth = calibration.depth_from_disparity(result)
    keep = (grown | filled) & (depth >= config.min_depth_m) & (depth <= config.max_depth_m)
    return DepthPrior(
        disparity=np.where(keep, result, 0).astype(np.float32),
        depth=np.where(keep, depth, 0).astype(np.float32),
        confidence=np.where(keep, confidence, 0).astype(np.float32),
        filled=(filled & keep) if config.fill_holes else None,
    )


class SeededBackend:
    """``depth_prior.backend: seeded``: :func:`seeded_depth_prior` with the configured parameters."""

    def __init__(self, config: DepthPriorConfig) -> None:
        self.config = config

    def estimate(self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration) -> DepthPrior:
        """The seeded prior of a rectified pair."""
        return seeded_depth_prior(left, right, calibration, self.config)


register_prior_backend("seeded", SeededBackend)

__all__ = ["SeededBackend", "grow_from_seeds", "seeded_depth_prior", "stereo_seeds"]
