"""Soft silhouettes as a sigmoid of the signed distance to the projected outline (the default rasteriser).

``S(p) = sigmoid(s(p) * D(p) / sigma)``: ``s = +1`` where the pixel centre is inside the exact (ray cast)
silhouette, ``-1`` outside, and ``D`` the distance in pixels from the pixel centre to the nearest
*outline edge*: a mesh edge whose two faces project to the same side of it (a fold of the projected
surface, or a boundary edge of an open mesh) and whose outer side is not covered by the mesh (which
drops folds hidden inside the silhouette, such as a handle seen against the body). Beyond
``margin * sigma`` from every outline edge ``S`` is the exact 0/1 mask. The 0.5 level is then exactly
the silhouette's outline and the profile across it is symmetric, so matching a binary mask by soft IoU
has no size bias (unlike summing per-triangle probabilities, see ``softras``). Gradients reach only
the vertices of outline edges, which are what moves a silhouette. The set of fold edges changes when a
face turns edge-on, and then old and new fold edges coincide in the image, so ``D`` stays continuous.

Cost: (tile, outline edge) pairs only, a few tens of thousands of pixel-edge terms at 128 px, plus one
ray cast per pixel (``HardRasterizer``) for the sign; independent of the triangle count except
through the number of outline edges (about the square root of it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from stereo_nerf_core.alignment.tiles import (
    covering_grid,
    edge_functions,
    evaluate_affine,
    overlapping_pairs,
    segment_distance2,
)


@dataclass(frozen=True)
class EdgeTopology:
    """Unique edges of a triangle mesh and, per edge, the vertex opposite it in its (first two) faces."""

    edges: NDArray[np.int64]
    """(E, 2) vertex indices of each unique edge."""
    opposite: NDArray[np.int64]
    """(E, 2) vertex opposite the edge in its first and second face; ``-1`` when it has one face only
    (a boundary edge). Edges of more than two faces (non-manifold) keep their first two."""


def edge_topology(faces: NDArray[np.int64]) -> EdgeTopology:
    """Edge topology of ``faces`` (F, 3)."""
    faces = np.asarray(faces, dtype=np.int64)
    half = faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    third = faces[:, [2, 0, 1]].reshape(-1)
    keys = np.sort(half, axis=1)
    edges, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse, minlength=edges.shape[0])
    first = np.cumsum(counts) - counts
    opposite = np.full((edges.shape[0], 2), -1, dtype=np.int64)
    opposite[:, 0] = third[order[first]]
    two = counts >= 2
    opposite[two, 1] = third[order[first[two] + 1]]
    return EdgeTopology(edges.astype(np.int64), opposite)


def fold_edges(points: Tensor, edges: Tensor, opposite: Tensor) -> tuple[Tensor, Tensor]:
    """Edges (indices (C,)) whose faces project to one side of them, and their outward unit normals (C, 2).

    ``points`` (V, 2) projected vertices, ``edges`` / ``opposite`` (E, 2) from :func:`edge_topology`.
    Boundary edges (``opposite[:, 1] == -1``) always count; zero-length edges never. No gradient.
    """
    with torch.no_grad():
        start, end = points[edges[:, 0]], points[edges[:, 1]]
        direction = end - start
        length = direction.norm(dim=1)

        def side(vertex: Tensor) -> Tensor:
            offset = points[vertex.clamp_min(0)] - start
            return direction[:, 0] * offset[:, 1] - direction[:, 1] * offset[:, 0]

        side_first, side_second = side(opposite[:, 0]), side(opposite[:, 1])
        boundary = opposite[:, 1] < 0
        fold = (boundary | (side_first * side_second >= 0)) & (length > 1e-6) & torch.isfinite(length)
        index = torch.nonzero(fold).squeeze(1)
        normal = torch.stack([-direction[index, 1], direction[index, 0]], 1) / length[index, None]
        faces_side = torch.where(side_first[index] != 0, side_first[index], side_second[index])
        outward = -torch.where(faces_side >= 0, 1.0, -1.0).to(points.dtype)[:, None] * normal
        return index, outward


def contour_silhouette(
    points: Tensor,
    outline: Tensor,
    inside: Tensor,
    *,
    sigma_px: float = 0.7,
    margin: float = 6.0,
    tile_size: int = 8,
) -> Tensor:
    """Soft silhouette (H, W) from projected vertices ``points`` (V, 2) and outline edges ``outline`` (C, 2).

    ``inside`` (H, W) bool is the exact silhouette (pixel centres covered); ``sigma_px`` the softness in
    pixels; terms stop at ``margin * sigma_px`` pixels from the outline. Differentiable w.r.t.
    ``points``; runs on ``points.device``.
    """
    height, width = int(inside.shape[0]), int(inside.shape[1])
    hard = inside.to(points.dtype)
    reach = margin * sigma_px
    start, end = points[outline[:, 0]], points[outline[:, 1]]
    with torch.no_grad():
        lo = torch.minimum(start, end).detach() - reach
        hi = torch.maximum(start, end).detach() + reach
        grid = covering_grid(lo, hi, width, height, tile_size)
    if grid is None:
        return hard + 0.0 * points.sum()
    item, tile, tile_origin = overlapping_pairs(grid, lo, hi)
    coefficients, lengths = edge_functions(start, end)
    values = evaluate_affine(coefficients[item], tile_origin, grid.offsets(points))
    distance2 = segment_distance2(values[:, 0], values[:, 1], lengths[item][:, None])
    nearest = torch.full((grid.count, grid.tile_size**2), reach * reach, dtype=points.dtype, device=points.device)
    nearest = nearest.scatter_reduce(0, tile[:, None].expand_as(distance2), distance2, "amin", include_self=True)
    x1, y1 = min(grid.x0 + grid.tiles_x * grid.tile_size, width), min(grid.y0 + grid.tiles_y * grid.tile_size, height)
    region = (slice(grid.y0, y1), slice(grid.x0, x1))
    nearest = grid.to_region(nearest)[: y1 - grid.y0, : x1 - grid.x0]
    inner = hard[region]
    soft = torch.sigmoid((inner * 2.0 - 1.0) * torch.sqrt(nearest + 1e-6) / sigma_px)
    out = hard.clone()
    out[region] = torch.where(nearest < reach * reach, soft, inner)
    return out
