"""NeRF: a density field rendered with NeRF's alpha compositing."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from stereo_nerf_core.fields.base import Field
from stereo_nerf_core.fields.nerf_field import NerfField, NerfFieldConfig
from stereo_nerf_core.models.base import Model
from stereo_nerf_core.models.errors import ModelError
from stereo_nerf_core.render.callbacks import RadianceCallbacks, Samples
from stereo_nerf_core.render.renderer import SamplingConfig


def density_callbacks(field: Field) -> RadianceCallbacks:
    """A static density field (``field.density`` and ``field(...)``) as render callbacks."""

    def rgb_sigma_fn(samples: Samples) -> tuple[Tensor, Tensor]:
        output = field(samples.positions, samples.directions)
        if output.density is None:
            raise ModelError(f"{type(field).__name__} returned no density")
        return output.rgb, output.density

    return RadianceCallbacks(rgb_sigma_fn=rgb_sigma_fn, sigma_fn=lambda samples: field.density(samples.positions))


class NerfModel(Model):
    """A static :class:`NerfField` (hash grid, density and view-dependent colour)."""

    geometry = "density"

    def __init__(self, field_config: NerfFieldConfig, *, bounds_min: Sequence[float], bounds_max: Sequence[float]):
        if not isinstance(field_config, NerfFieldConfig):
            raise ModelError(f"the nerf model needs a NerfFieldConfig, got {type(field_config).__name__}")
        super().__init__(field_config, bounds_min=bounds_min, bounds_max=bounds_max)
        self.field = NerfField(field_config, bounds_min=bounds_min, bounds_max=bounds_max)

    def callbacks(self) -> RadianceCallbacks:
        return density_callbacks(self.field)

    def geometry_at(self, positions: Tensor, time_s: float | None = None) -> Tensor:
        return self.field.density(positions)

    def colour_at(self, positions: Tensor, directions: Tensor, time_s: float | None = None) -> Tensor:
        return self.field(positions, directions).rgb

    def occupancy_opacity(self, positions: Tensor, *, step_m: float, cell_diagonal_m: float) -> Tensor:
        return -torch.expm1(-self.field.density(positions).float().clamp_min(0.0) * step_m)

    def initialise(self, sampling: SamplingConfig) -> None:
        initialise_density(self.field, sampling)


def initialise_density(field: NerfField, sampling: SamplingConfig) -> bool:
    """Start ``field`` at density ``1 / (far - near)`` (1/m): about 63 % opacity over the depth range.

    The field's own start (raw output 0: density 1/m) is tuned for unit-sized scenes; in metres
    an endoscopic scene (7 cm of depth range) starts 99 % transparent, and the colour network then
    saturates trying to brighten a black image before any surface forms. This sets the bias of the
    density output (the first output of the geometry MLP's last layer); returns False (and changes
    nothing) when the field has no such layer.
    """
    last = field.geometry_mlp[-1] if len(field.geometry_mlp) else None
    if not isinstance(last, torch.nn.Linear):
        return False
    density = 1.0 / (sampling.far_m - sampling.near_m)
    raw = math.log(density) if field.config.density_activation == "trunc_exp" else math.log(math.expm1(density))
    with torch.no_grad():
        last.bias[0] = raw
    return True
