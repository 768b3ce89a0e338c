"""Density field (NeRF mode): hash grid -> small MLP -> density and a geometry feature; view-dependent colour.

Specular tissue needs view dependence, so colour comes from the geometry feature and the
spherical-harmonics encoding of the view direction (Instant-NGP / nerfstudio "nerfacto" layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from stereo_nerf_core.fields.base import Field, FieldOutput, check_points, check_query
from stereo_nerf_core.fields.encodings import MAX_SH_DEGREE, mlp, spherical_harmonics, trunc_exp
from stereo_nerf_core.fields.errors import FieldError
from stereo_nerf_core.fields.hash_grid import HashGridConfig


@dataclass(frozen=True)
class NerfFieldConfig:
    """Architecture of :class:`NerfField`."""

    grid: HashGridConfig = field(default_factory=HashGridConfig)
    """Position encoding."""
    hidden_width: int = 64
    """Width of every hidden layer."""
    geometry_layers: int = 1
    """Hidden layers of the density MLP."""
    geometry_feature_dim: int = 15
    """Geometry feature passed from the density MLP to the colour MLP."""
    color_layers: int = 2
    """Hidden layers of the colour MLP."""
    sh_degree: int = 4
    """Spherical-harmonics degree of the view-direction encoding (degree**2 features; 4 -> 16)."""
    density_activation: Literal["trunc_exp", "softplus"] = "trunc_exp"
    """Activation turning the raw MLP output into a density in 1/m."""

    def __post_init__(self) -> None:
        if min(self.hidden_width, self.geometry_feature_dim) < 1 or min(self.geometry_layers, self.color_layers) < 0:
            raise FieldError(f"NerfFieldConfig sizes must be positive, got {self}")
        if not 1 <= self.sh_degree <= MAX_SH_DEGREE:
            raise FieldError(f"sh_degree must be in 1..{MAX_SH_DEGREE}, got {self.sh_degree}")
        if self.density_activation not in ("trunc_exp", "softplus"):
            raise FieldError(f"density_activation must be 'trunc_exp' or 'softplus', got {self.density_activation!r}")


class NerfField(Field):
    """NeRF-mode field over the box ``[bounds_min, bounds_max]`` (metres, world frame)."""

    mode = "nerf"

    def __init__(self, config: NerfFieldConfig, *, bounds_min: Sequence[float], bounds_max: Sequence[float]) -> None:
        super().__init__()
        self.config = config
        self.encoding = config.grid.build(bounds_min, bounds_max)
        self.geometry_mlp = mlp(
            self.encoding.output_dim, config.hidden_width, config.geometry_layers, 1 + config.geometry_feature_dim
        )
        self.color_mlp = mlp(
            config.geometry_feature_dim + config.sh_degree**2, config.hidden_width, config.color_layers, 3
        )

    def _geometry(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        out = self.geometry_mlp(self.encoding(positions))
        raw = out[:, 0].float()
        density = trunc_exp(raw) if self.config.density_activation == "trunc_exp" else nn.functional.softplus(raw)
        return density, out[:, 1:]

    def density(self, positions: Tensor) -> Tensor:
        """(N,) density in 1/m at ``positions`` (N, 3), without the colour branch."""
        check_points(positions)
        return self._geometry(positions)[0]

    def forward(self, positions: Tensor, directions: Tensor) -> FieldOutput:
        """Colour (N, 3) and density (N,) at ``positions`` (N, 3) seen along unit ``directions`` (N, 3)."""
        check_query(positions, directions)
        density, feature = self._geometry(positions)
        sh = spherical_harmonics(directions, self.config.sh_degree).to(feature.dtype)
        rgb = torch.sigmoid(self.color_mlp(torch.cat([feature, sh], dim=1)).float())
        return FieldOutput(rgb=rgb, density=density)
