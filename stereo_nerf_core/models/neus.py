"""NeuS: a signed-distance field rendered with NeuS's unbiased opacities, with the eikonal loss."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from stereo_nerf_core.fields.base import Field
from stereo_nerf_core.fields.sdf_field import SdfField, SdfFieldConfig
from stereo_nerf_core.learning_config import TrainerConfig
from stereo_nerf_core.models.base import Model
from stereo_nerf_core.models.errors import ModelError
from stereo_nerf_core.render.callbacks import RadianceCallbacks, Samples
from stereo_nerf_core.render.neus import eikonal_loss, neus_alpha, sdf_secant_cos
from stereo_nerf_core.render.renderer import RenderOutput

SdfFn = Callable[[Samples], Tensor]
"""Signed distance (M,) in metres at the samples, without the colour branch."""
RgbSdfFn = Callable[[Samples], tuple[Tensor, Tensor, Tensor]]
"""(colour (M, 3), signed distance (M,), its gradient (M, 3))."""


def neus_callbacks(sdf_fn: SdfFn, rgb_sdf_fn: RgbSdfFn, inv_s: Tensor) -> RadianceCallbacks:
    """NeuS opacities from ``rgb_sdf_fn(samples) -> (rgb, sdf, gradient)`` and the gradient-free ``sdf_fn``."""

    def rgb_alpha_fn(samples: Samples) -> tuple[Tensor, Tensor, Tensor | None]:
        rgb, sdf, gradient = rgb_sdf_fn(samples)
        gradient = gradient.float()
        cos = (gradient * samples.directions.to(gradient.dtype)).sum(-1)
        alpha = neus_alpha(sdf.float()[:, None], cos[:, None], samples.deltas[:, None], inv_s.float())[:, 0]
        return rgb, alpha, gradient

    def alpha_fn(samples: Samples) -> Tensor:
        if samples.rays_by_samples is None:
            raise ModelError("the NeuS coarse pass needs every sample of every ray (rays_by_samples)")
        sdf = sdf_fn(samples).float().view(samples.rays_by_samples)
        t_mid = samples.t_mid.view(samples.rays_by_samples)
        deltas = samples.deltas.view(samples.rays_by_samples)
        return neus_alpha(sdf, sdf_secant_cos(sdf, t_mid), deltas, inv_s.float()).reshape(-1)

    return RadianceCallbacks(rgb_alpha_fn=rgb_alpha_fn, alpha_fn=alpha_fn)


def sdf_occupancy(sdf: Tensor, inv_s: Tensor, cell_diagonal_m: float) -> Tensor:
    """Opacity of the zero-level shell: ``exp(-|sdf| / band)``, band ``max(cell diagonal, 4 / inv_s)``."""
    band = max(cell_diagonal_m, 4.0 / float(inv_s))
    return torch.exp(-sdf.float().abs() / band)


def sdf_callbacks(field: Field) -> RadianceCallbacks:
    """A static signed-distance field (``field.sdf``, ``field.inv_s`` and ``field(...)``) as NeuS callbacks."""

    def rgb_sdf_fn(samples: Samples) -> tuple[Tensor, Tensor, Tensor]:
        output = field(samples.positions, samples.directions)
        if output.sdf is None or output.gradient is None:
            raise ModelError(f"{type(field).__name__} returned no sdf or gradient")
        return output.rgb, output.sdf, output.gradient

    return neus_callbacks(lambda samples: field.sdf(samples.positions), rgb_sdf_fn, field.inv_s())


class NeusModel(Model):
    """A static :class:`SdfField` (hash grid, SDF, colour from position, normal and view)."""

    geometry = "sdf"

    def __init__(self, field_config: SdfFieldConfig, *, bounds_min: Sequence[float], bounds_max: Sequence[float]):
        if not isinstance(field_config, SdfFieldConfig):
            raise ModelError(f"the sdf model needs an SdfFieldConfig, got {type(field_config).__name__}")
        super().__init__(field_config, bounds_min=bounds_min, bounds_max=bounds_max)
        self.field = SdfField(field_config, bounds_min=bounds_min, bounds_max=bounds_max)

    def callbacks(self) -> RadianceCallbacks:
        return sdf_callbacks(self.field)

    def geometry_at(self, positions: Tensor, time_s: float | None = None) -> Tensor:
        return self.field.sdf(positions)

    def colour_at(self, positions: Tensor, directions: Tensor, time_s: float | None = None) -> Tensor:
        return self.field(positions, directions).rgb

    def occupancy_opacity(self, positions: Tensor, *, step_m: float, cell_diagonal_m: float) -> Tensor:
        return sdf_occupancy(self.field.sdf(positions), self.field.inv_s(), cell_diagonal_m)

    def losses(self, out: RenderOutput, config: TrainerConfig) -> dict[str, Tensor]:
        if out.gradients is None:
            return {}
        return {"eikonal": config.eikonal_weight * eikonal_loss(out.gradients)}
