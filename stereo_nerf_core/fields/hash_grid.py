"""Multi-resolution hash encoding (Instant-NGP) in plain, vectorised PyTorch.

All levels live in ONE parameter table (T_total, F). Level l has ``r_l`` cells per axis, growing
geometrically from ``base_resolution`` to ``max_resolution``. A level whose vertex grid fits the
table (``(2**k)**3 <= 2**log2_table_size`` with ``2**k >= r_l + 1``) is indexed densely
(``i + j * 2**k + m * 2**(2k)``, collision-free); finer levels are hashed
(``(i * 1) ^ (j * 2654435761) ^ (m * 805459861)`` modulo their ``2**log2_table_size`` entries).
Every level's slice of the table has a power-of-two size and starts at a multiple of it, so the
level offset is OR-ed into the x term and the 8 corner indices of all levels come from two XORs of
per-axis terms; one ``index_select`` gathers every corner of every level and one weighted sum does
the trilinear interpolation. The gather is a custom autograd function (rows moved as packed
integers, scatter by ``bincount`` on CPU) that stays differentiable for the SDF's double backward.
No Python loop runs per level or per point.

Precision: the encoding always computes in float32, also under ``torch.autocast`` (float16 cannot
resolve 1/2048 of the scene); its output is float32 and the MLPs after it run in the autocast dtype.

Bounds: positions are normalised by the axis-aligned box ``[bounds_min, bounds_max]`` (metres) and
clamped into it, so a point outside gets the features of the nearest point on the box surface and
no gradient with respect to its position along the clamped axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from stereo_nerf_core.fields.errors import FieldError

PRIMES = (1, 2654435761, 805459861)
MAX_LOG2_TABLE_SIZE = 24


def _gather(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]``; a row of 4 or 8 bytes is moved as one integer (several times faster on CPU)."""
    packed = {4: torch.int32, 8: torch.int64}.get(table.shape[1] * table.element_size())
    if packed is None or not table.is_contiguous():
        return table.index_select(0, index)
    return table.view(packed).view(-1).index_select(0, index).view(table.dtype).view(-1, table.shape[1])


def _scatter(values: Tensor, index: Tensor, size: int) -> Tensor:
    """(size, F) sums of the rows of ``values`` (K, F) by ``index`` (K,); on CPU one ``bincount`` over the flat
    (row, channel) entries (twice as fast as a ``bincount`` per channel and their stack on a 2**23-row table)."""
    channels = values.shape[1]
    if values.device.type == "cpu":
        flat = (index[:, None] * channels + torch.arange(channels, device=index.device)).view(-1)
        sums = torch.bincount(flat, weights=values.reshape(-1), minlength=size * channels)
        return sums.view(size, channels).to(values.dtype)
    return values.new_zeros(size, channels).index_add_(0, index, values)


class _GatherRows(torch.autograd.Function):
    """``table[index]`` whose backward is :class:`_ScatterRows` (and vice versa): differentiable to any order."""

    @staticmethod
    def forward(ctx: Any, table: Tensor, index: Tensor) -> Tensor:
        ctx.save_for_backward(index)
        ctx.size = table.shape[0]
        return _gather(table, index)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (index,) = ctx.saved_tensors
        return scatter_rows(grad.contiguous(), index, ctx.size), None


class _ScatterRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, values: Tensor, index: Tensor, size: int) -> Tensor:
        ctx.save_for_backward(index)
        return _scatter(values, index, size)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (index,) = ctx.saved_tensors
        return gather_rows(grad.contiguous(), index), None, None


def gather_rows(table: Tensor, index: Tensor) -> Tensor:
    """Rows (K, F) of ``table`` (T, F) at ``index`` (K,) int64; fast gather and scatter, twice differentiable."""
    result: Tensor = _GatherRows.apply(table, index)
    return result


def scatter_rows(values: Tensor, index: Tensor, size: int) -> Tensor:
    """(size, F) sums of ``values`` (K, F) by ``index`` (K,); the adjoint of :func:`gather_rows`."""
    result: Tensor = _ScatterRows.apply(values, index, size)
    return result


def interpolate_corners(table: Tensor, index: Tensor, weights: Tensor) -> Tensor:
    """(M, F) weighted sums ``sum_c weights[c, m] * table[index[c, m]]`` over 8 corners: ``index`` (8, M) int64,
    ``weights`` (8, M); corner-major so every elementwise op is contiguous."""
    corners = gather_rows(table, index.reshape(-1)).view(8, -1, table.shape[1])
    return (corners * weights[:, :, None].to(corners.dtype)).sum(dim=0)


def _check_bounds(bounds_min: Sequence[float], bounds_max: Sequence[float]) -> tuple[list[float], list[float]]:
    low, high = [float(v) for v in bounds_min], [float(v) for v in bounds_max]
    if len(low) != 3 or len(high) != 3:
        raise FieldError(f"bounds_min and bounds_max must have 3 entries (x, y, z), got {len(low)} and {len(high)}")
    if not all(math.isfinite(a) and math.isfinite(b) and b > a for a, b in zip(low, high, strict=True)):
        raise FieldError(f"bounds_max must exceed bounds_min on every axis, got {low} .. {high}")
    return low, high


class HashGridEncoding(nn.Module):
    """Features (N, levels * features_per_level) of world positions (N, 3); see the module docstring.

    The table is initialised uniformly in [-1e-4, 1e-4] (torch's default generator: seed it for
    reproducible weights). Level l has ``floor(base_resolution * b**l)`` cells per axis with
    ``b = (max_resolution / base_resolution) ** (1 / (levels - 1))``.
    """

    _low: Tensor
    _extent: Tensor
    _resolution: Tensor
    _strides: Tensor
    _masks: Tensor
    _offsets: Tensor

    def __init__(
        self,
        *,
        bounds_min: Sequence[float],
        bounds_max: Sequence[float],
        levels: int = 16,
        features_per_level: int = 2,
        log2_table_size: int = 19,
        base_resolution: int = 16,
        max_resolution: int = 2048,
    ) -> None:
        super().__init__()
        low, high = _check_bounds(bounds_min, bounds_max)
        if levels < 1 or features_per_level < 1:
            raise FieldError(f"levels and features_per_level must be >= 1, got {levels} and {features_per_level}")
        if not 4 <= log2_table_size <= MAX_LOG2_TABLE_SIZE:
            raise FieldError(f"log2_table_size must be in 4..{MAX_LOG2_TABLE_SIZE}, got {log2_table_size}")
        if base_resolution < 1 or max_resolution < base_resolution:
            raise FieldError(f"need 1 <= base_resolution <= max_resolution, got {base_resolution} and {max_resolution}")
        self.levels = levels
        self.features_per_level = features_per_level
        growth = math.exp(math.log(max_resolution / base_resolution) / (levels - 1)) if levels > 1 else 1.0
        resolutions = [math.floor(base_resolution * growth**level + 1e-6) for level in range(levels)]
        sizes, strides, dense = [], [], []
        for resolution in resolutions:
            bits = max(1, math.ceil(math.log2(resolution + 1)))
            if 3 * bits <= log2_table_size:
                sizes.append(1 << (3 * bits))
                strides.append((1, 1 << bits, 1 << (2 * bits)))
                dense.append(True)
            else:
                sizes.append(1 << log2_table_size)
                strides.append(PRIMES)
                dense.append(False)
        # Largest slices first: every offset is then a multiple of its own (power-of-two) slice size.
        offsets = [0] * levels
        position = 0
        for level in sorted(range(levels), key=lambda index: -sizes[index]):
            offsets[level] = position
            position += sizes[level]
        self.resolutions = tuple(resolutions)
        self.dense_levels = tuple(dense)
        self.table_size = position
        self.register_buffer("_low", torch.tensor(low), persistent=False)
        self.register_buffer("_extent", torch.tensor(high) - torch.tensor(low), persistent=False)
        self.register_buffer("_resolution", torch.tensor(resolutions, dtype=torch.float32), persistent=False)
        self.register_buffer("_strides", torch.tensor(strides, dtype=torch.int64), persistent=False)
        self.register_buffer("_masks", torch.tensor(sizes, dtype=torch.int64) - 1, persistent=False)
        self.register_buffer("_offsets", torch.tensor(offsets, dtype=torch.int64), persistent=False)
        self.table = nn.Parameter(torch.empty(position, features_per_level).uniform_(-1e-4, 1e-4))

    @property
    def output_dim(self) -> int:
        """Number of output features: ``levels * features_per_level``."""
        return self.levels * self.features_per_level

    def normalise(self, positions: Tensor) -> Tensor:
        """Positions (N, 3) mapped into [0, 1]^3 by the bounds (clamped), float32."""
        return ((positions.float() - self._low) / self._extent).clamp(0.0, 1.0)

    def forward(self, positions: Tensor) -> Tensor:
        """Interpolated features (N, levels * features_per_level), float32, of world ``positions`` (N, 3)."""
        if positions.ndim != 2 or positions.shape[1] != 3:
            raise FieldError(f"positions must have shape (N, 3), got {tuple(positions.shape)}")
        with torch.autocast(device_type=positions.device.type, enabled=False):
            return self._encode(self.normalise(positions))

    def _encode(self, unit: Tensor) -> Tensor:
        n, levels, features = unit.shape[0], self.levels, self.features_per_level
        # Axis- and corner-major layout (3 or 8, L, N): every elementwise op below is contiguous.
        resolution = self._resolution[None, :, None]  # (1, L, 1)
        scaled = unit.T[:, None, :] * resolution  # (3, L, N)
        cell = torch.minimum(scaled.detach().floor(), resolution - 1.0)
        frac = scaled - cell  # in [0, 1]; carries the gradient w.r.t. the positions
        strides, masks = self._strides.T[:, :, None], self._masks[None, :, None]
        low = (cell.long() * strides) & masks  # (3, L, N) hash terms of the lower corner per axis
        high = (low + strides) & masks  # (i + 1) * s = i * s + s
        offsets = self._offsets[:, None]
        hx = torch.stack([low[0] | offsets, high[0] | offsets])  # (2, L, N); the level offset rides on x
        hy, hz = torch.stack([low[1], high[1]]), torch.stack([low[2], high[2]])
        index = hx[:, None, None] ^ hy[None, :, None] ^ hz[None, None, :]  # (2, 2, 2, L, N)
        wx = torch.stack([1.0 - frac[0], frac[0]])
        wy = torch.stack([1.0 - frac[1], frac[1]])
        wz = torch.stack([1.0 - frac[2], frac[2]])
        weights = wx[:, None, None] * wy[None, :, None] * wz[None, None, :]  # (2, 2, 2, L, N)
        out = interpolate_corners(self.table, index.view(8, levels * n), weights.view(8, levels * n))
        return out.view(levels, n, features).transpose(0, 1).reshape(n, levels * features)


@dataclass(frozen=True)
class HashGridConfig:
    """Sizes of a :class:`HashGridEncoding` (see its docstring)."""

    levels: int = 16
    """Number of resolution levels."""
    features_per_level: int = 2
    """Features stored per table entry."""
    log2_table_size: int = 19
    """log2 of the entries per hashed level."""
    base_resolution: int = 16
    """Cells per axis of the coarsest level."""
    max_resolution: int = 2048
    """Cells per axis of the finest level."""

    def build(self, bounds_min: Sequence[float], bounds_max: Sequence[float]) -> HashGridEncoding:
        """The encoding over the box ``[bounds_min, bounds_max]`` (metres)."""
        return HashGridEncoding(
            bounds_min=bounds_min,
            bounds_max=bounds_max,
            levels=self.levels,
            features_per_level=self.features_per_level,
            log2_table_size=self.log2_table_size,
            base_resolution=self.base_resolution,
            max_resolution=self.max_resolution,
        )
