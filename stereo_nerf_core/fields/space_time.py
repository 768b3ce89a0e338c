"""Factorised space-time volumes (a K-Planes / HexPlane variant): features of (x, y, t), (x, z, t), (y, z, t).

Each of the three volumes is a learnable (C, T, R, R) grid over two spatial axes of the scene box (R cells
each) and the recording's time span (T knots); a point's feature is the sum of its trilinear samples from
the three volumes, at every resolution level (concatenated). Pairs of axes, not single axes, keep a
deformation local (a tissue fold at (x, y) moves without dragging its whole row). The feature is linear in
time between two knots, and constant in time when the grids are: a model built on it starts static (zero
grids) and interpolates between the states it learnt at its knots. Pure PyTorch: the corners are gathered
with the hash grid's fast rows (:func:`~stereo_nerf_core.fields.hash_grid.interpolate_corners`), about three
times faster to train on a CPU than ``grid_sample``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from stereo_nerf_core.fields.base import check_points
from stereo_nerf_core.fields.errors import FieldError
from stereo_nerf_core.fields.hash_grid import interpolate_corners


@dataclass(frozen=True)
class SpaceTimeConfig:
    """Sizes of :class:`SpaceTimeVolumes`."""

    channels: int = 8
    """Feature channels per volume and level."""
    spatial_resolutions: tuple[int, ...] = (16, 48)
    """Cells along each spatial axis, one entry per level."""
    time_knots: int = 32
    """Knots along the time span (linear interpolation between them)."""

    def __post_init__(self) -> None:
        if self.channels < 1 or self.time_knots < 2 or not self.spatial_resolutions:
            raise FieldError(f"SpaceTimeConfig needs channels >= 1, time_knots >= 2 and a level, got {self}")
        if min(self.spatial_resolutions) < 2:
            raise FieldError(f"spatial_resolutions must all be >= 2, got {self.spatial_resolutions}")

    @property
    def output_dim(self) -> int:
        """Feature size: channels times levels."""
        return self.channels * len(self.spatial_resolutions)


class SpaceTimeVolumes(nn.Module):
    """Features (M, C * levels) of positions (M, 3) in the box at normalised times (M,) in [0, 1]."""

    low: Tensor
    size: Tensor

    def __init__(self, config: SpaceTimeConfig, *, bounds_min: Sequence[float], bounds_max: Sequence[float]) -> None:
        super().__init__()
        self.config = config
        low, high = torch.tensor(list(bounds_min), dtype=torch.float32), torch.tensor(list(bounds_max))
        if low.shape != (3,) or high.shape != (3,) or not bool((high > low).all()):
            raise FieldError(f"space-time planes need a box with min < max on 3 axes, got {bounds_min}, {bounds_max}")
        self.register_buffer("low", low, persistent=False)
        self.register_buffer("size", high.float() - low, persistent=False)
        self.planes = nn.ParameterList(
            nn.Parameter(torch.zeros(3, config.time_knots, resolution, resolution, config.channels))
            for resolution in config.spatial_resolutions
        )
        """Per level: (3 axis pairs, T knots, R, R, C) values; pair p of axes (a, b) is indexed [p, t, a, b]."""

    @property
    def output_dim(self) -> int:
        """Feature size."""
        return self.config.output_dim

    def forward(self, positions: Tensor, times: Tensor) -> Tensor:
        """Summed volume features per level, concatenated: (M, C * levels). Times outside [0, 1] are clamped."""
        check_points(positions)
        if times.shape != positions.shape[:1]:
            raise FieldError(f"times must have shape (M,) = ({positions.shape[0]},), got {tuple(times.shape)}")
        unit = ((positions.float() - self.low) / self.size).clamp(0.0, 1.0)  # (M, 3)
        when = times.float().clamp(0.0, 1.0)  # (M,)
        knots = self.config.time_knots
        t_scaled = when * (knots - 1)
        t_low = torch.minimum(t_scaled.detach().floor(), torch.tensor(knots - 2.0, device=when.device))
        t_frac = t_scaled - t_low
        features = []
        for volume in self.planes:
            resolution = volume.shape[2]
            scaled = unit * (resolution - 1)
            low = torch.minimum(scaled.detach().floor(), torch.tensor(resolution - 2.0, device=unit.device))
            frac = scaled - low
            total = None
            for pair, (a, b) in enumerate(((0, 1), (0, 2), (1, 2))):
                base = ((pair * knots + t_low.long()) * resolution + low[:, a].long()) * resolution + low[:, b].long()
                steps = (resolution * resolution, resolution, 1)  # +1 knot, +1 cell along a, +1 cell along b
                index = torch.stack(
                    [
                        base + dt * steps[0] + da * steps[1] + db * steps[2]
                        for dt in (0, 1)
                        for da in (0, 1)
                        for db in (0, 1)
                    ]
                )  # (8, M)
                wt = torch.stack([1.0 - t_frac, t_frac])
                wa = torch.stack([1.0 - frac[:, a], frac[:, a]])
                wb = torch.stack([1.0 - frac[:, b], frac[:, b]])
                weights = (wt[:, None, None] * wa[None, :, None] * wb[None, None, :]).reshape(8, -1)
                sampled = interpolate_corners(volume.view(-1, volume.shape[-1]), index, weights)
                total = sampled if total is None else total + sampled
            assert total is not None
            features.append(total)
        return torch.cat(features, dim=1)
