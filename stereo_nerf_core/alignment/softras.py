"""SoftRas-style soft silhouette (Liu et al. 2019): probabilistic union of per-triangle sigmoids.

Each triangle ``f`` covers pixel ``p`` with ``p_f = sigmoid(d(p, f) / sigma)``, ``d`` the signed distance
in pixels from the pixel centre to the projected triangle (positive inside; outside the distance to the
nearest edge segment, so slivers do not leak along their edge lines); the silhouette is
``1 - prod_f (1 - p_f) = 1 - exp(-sum_f softplus(d / sigma))``. Kept for comparison: where several
triangles meet the outline (front and back faces, fans of grazing faces) their ``p_f`` add up, so the
0.5 level lies about ``sigma`` outside the true outline, which biases poses (from the true pose of the
test object at 128 px, refinement drifts 4 degrees and 8 % of the distance; see
docs/silhouette_alignment.md). The alignment uses
:func:`~stereo_nerf_core.alignment.contour.contour_silhouette` instead.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional

from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.tiles import (
    covering_grid,
    edge_functions,
    evaluate_affine,
    overlapping_pairs,
    segment_distance2,
)


def softras_silhouette(
    points: Tensor,
    faces: Tensor,
    height: int,
    width: int,
    *,
    sigma_px: float = 0.7,
    margin: float = 6.0,
    tile_size: int = 8,
) -> Tensor:
    """SoftRas silhouette (height, width) in [0, 1) of projected vertices ``points`` (V, 2), ``faces`` (F, 3).

    ``sigma_px`` is the edge softness in pixels; triangles contribute only within ``margin * sigma_px``
    pixels of their bounding box. Differentiable w.r.t. ``points``; runs on ``points.device``.
    """
    if points.ndim != 2 or points.shape[1] != 2 or faces.ndim != 2 or faces.shape[1] != 3:
        raise AlignmentError(f"softras_silhouette: need points (V, 2), faces (F, 3), got {points.shape}, {faces.shape}")
    if sigma_px <= 0 or margin <= 0:
        raise AlignmentError(f"softras_silhouette: sigma_px and margin must be > 0, got {sigma_px}, {margin}")
    triangles = points[faces]
    reach = margin * sigma_px
    with torch.no_grad():
        corners = triangles.detach()
        ab, ac = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
        area2 = ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0]
        keep = torch.isfinite(corners).all(2).all(1) & (area2.abs() > 1e-9)
        lo, hi = corners.amin(1) - reach, corners.amax(1) + reach
        kept = torch.nonzero(keep).squeeze(1)
        grid = covering_grid(lo[kept], hi[kept], width, height, tile_size)
    if grid is None:
        return points.new_zeros((height, width)) + 0.0 * points.sum()
    item, tile, tile_origin = overlapping_pairs(grid, lo[kept], hi[kept])
    coefficients, lengths = edge_functions(triangles[kept], triangles[kept].roll(-1, dims=1))
    sign = torch.where(area2[kept] >= 0, 1.0, -1.0).to(points.dtype)
    coefficients = torch.cat([coefficients[:, :, :1] * sign[:, None, None, None], coefficients[:, :, 1:]], dim=2)
    values = evaluate_affine(coefficients[item].reshape(-1, 6, 3), tile_origin, grid.offsets(points))
    values = values.reshape(values.shape[0], 3, 2, -1)
    line, along = values[:, :, 0], values[:, :, 1]
    distance2 = segment_distance2(line, along, lengths[item][..., None]).amin(1)
    inside = line.detach().amin(1) > 0
    signed = torch.sqrt(distance2 + 1e-6) * torch.where(inside, 1.0, -1.0).to(points.dtype)
    total = points.new_zeros((grid.count, grid.tile_size**2)).index_add(0, tile, functional.softplus(signed / sigma_px))
    return grid.to_image(1.0 - torch.exp(-total), 0.0)
