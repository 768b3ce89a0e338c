"""Tiling for the soft rasterisers: which (tile, primitive) pairs to evaluate, and back to an image.

An image region is split into square tiles of ``tile_size`` pixels. A primitive (triangle or edge) with
pixel bounding box ``[lo, hi]`` (already widened by the soft rasteriser's reach) is paired with every
tile its box overlaps; the rasterisers evaluate each pair on the tile's ``tile_size**2`` pixel centres
in one batch and reduce per pixel with ``index_add`` / ``scatter_reduce``. Pixel coordinates are
pixel-centre coordinates (integer ``(u, v)`` are centres).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional


@dataclass(frozen=True)
class TileGrid:
    """Tiles covering pixels ``[x0, x0 + tiles_x * tile_size) x [y0, ...)`` of a ``width`` x ``height`` image."""

    x0: int
    """First pixel column of the grid."""
    y0: int
    """First pixel row of the grid."""
    tiles_x: int
    """Tiles per row."""
    tiles_y: int
    """Tile rows."""
    tile_size: int
    """Tile side in pixels."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""

    @property
    def count(self) -> int:
        """Number of tiles."""
        return self.tiles_x * self.tiles_y

    def offsets(self, like: Tensor) -> Tensor:
        """Pixel offsets (2, tile_size**2) as ``(du, dv)`` within a tile, row-major; dtype/device of ``like``."""
        step = torch.arange(self.tile_size, device=like.device, dtype=like.dtype)
        return torch.stack([step.repeat(self.tile_size), step.repeat_interleave(self.tile_size)])

    def to_region(self, values: Tensor) -> Tensor:
        """Per-tile pixel values (count, tile_size**2) as the grid's image (tiles_y * size, tiles_x * size)."""
        size = self.tile_size
        grid = values.reshape(self.tiles_y, self.tiles_x, size, size).permute(0, 2, 1, 3)
        return grid.reshape(self.tiles_y * size, self.tiles_x * size)

    def to_image(self, values: Tensor, fill: float) -> Tensor:
        """Per-tile pixel values (count, tile_size**2) as an image (height, width), ``fill`` outside the grid."""
        grid = self.to_region(values)
        crop_h, crop_w = min(grid.shape[0], self.height - self.y0), min(grid.shape[1], self.width - self.x0)
        padding = (self.x0, self.width - self.x0 - crop_w, self.y0, self.height - self.y0 - crop_h)
        return functional.pad(grid[:crop_h, :crop_w], padding, value=fill)


def covering_grid(lo: Tensor, hi: Tensor, width: int, height: int, tile_size: int) -> TileGrid | None:
    """The grid over the union of boxes ``[lo, hi]`` (N, 2) in pixels clipped to the image; None if empty."""
    if lo.shape[0] == 0:
        return None
    first = lo.amin(0).clamp_min(0).floor().long()
    last = hi.amax(0).ceil().long()
    x0, y0 = int(first[0]), int(first[1])
    x1, y1 = min(int(last[0]), width - 1), min(int(last[1]), height - 1)
    if x1 < x0 or y1 < y0:
        return None
    return TileGrid(
        x0, y0, math.ceil((x1 - x0 + 1) / tile_size), math.ceil((y1 - y0 + 1) / tile_size), tile_size, width, height
    )


def overlapping_pairs(grid: TileGrid, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Every (primitive, tile) pair whose box ``[lo, hi]`` (N, 2) overlaps the tile.

    Returns the primitive index (P,), the tile index (P,) (row-major) and the tile's first pixel
    ``(u, v)`` (P, 2) in ``lo``'s dtype. Boxes entirely off the grid get no pair.
    """
    origin = torch.tensor([grid.x0, grid.y0], device=lo.device, dtype=lo.dtype)
    limit = torch.tensor([grid.tiles_x - 1, grid.tiles_y - 1], device=lo.device)
    first = torch.div((lo - origin).floor().long(), grid.tile_size, rounding_mode="floor")
    last = torch.div((hi - origin).ceil().long(), grid.tile_size, rounding_mode="floor")
    on_grid = (last >= 0).all(1) & (first <= limit).all(1)
    first = torch.minimum(first.clamp_min(0), limit)
    last = torch.minimum(last.clamp_min(0), limit)
    span = torch.where(on_grid[:, None], last - first + 1, torch.zeros_like(first))
    counts = span[:, 0] * span[:, 1]
    item = torch.repeat_interleave(torch.arange(lo.shape[0], device=lo.device), counts)
    local = torch.arange(item.shape[0], device=lo.device) - (torch.cumsum(counts, 0) - counts)[item]
    row_length = span[item, 0]
    tile_x = first[item, 0] + local % row_length
    tile_y = first[item, 1] + torch.div(local, row_length, rounding_mode="floor")
    tile_origin = torch.stack([tile_x, tile_y], 1) * grid.tile_size + origin.long()
    return item, tile_y * grid.tiles_x + tile_x, tile_origin.to(lo.dtype)


def edge_functions(start: Tensor, end: Tensor) -> tuple[Tensor, Tensor]:
    """Affine functions of segments ``start`` -> ``end`` (..., 2) in pixels.

    Returns ``coefficients`` (..., 2, 3) and ``lengths`` (...): row 0 is the signed distance
    ``a u + b v + c`` of pixel ``(u, v)`` to the segment's line, positive towards the normal
    ``(-dv, du)`` of the direction ``(du, dv)``; row 1 the coordinate along the segment in pixels
    (0 at ``start``, ``lengths`` at ``end``).
    """
    direction = end - start
    lengths = direction.norm(dim=-1).clamp_min(1e-9)
    unit = direction / lengths[..., None]
    normal = torch.stack([-unit[..., 1], unit[..., 0]], dim=-1)
    axes = torch.stack([normal, unit], dim=-2)
    offsets = -(axes * start[..., None, :]).sum(-1, keepdim=True)
    return torch.cat([axes, offsets], dim=-1), lengths


def evaluate_affine(coefficients: Tensor, tile_origin: Tensor, offsets: Tensor) -> Tensor:
    """Affine functions (P, R, 3) of P pairs evaluated on their tile's pixels: (P, R, T).

    ``tile_origin`` (P, 2) is each pair's first tile pixel, ``offsets`` (2, T) the pixel offsets.
    """
    base = coefficients[..., 2] + (coefficients[..., :2] * tile_origin[:, None, :]).sum(-1)
    return base[..., None] + coefficients[..., 0, None] * offsets[0] + coefficients[..., 1, None] * offsets[1]


def segment_distance2(line: Tensor, along: Tensor, lengths: Tensor) -> Tensor:
    """Squared distance to segments from the values of their edge functions (same shapes; ``lengths`` broadcast)."""
    beyond = along - torch.minimum(along.clamp_min(0.0), lengths)
    return line * line + beyond * beyond
