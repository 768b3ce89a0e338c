"""Deformable models: a canonical field seen through a time-conditioned deformation (EndoNeRF's idea).

A sample at position x and time t (seconds since the recording's first keyframe) is moved to
``x + dx(x, t)`` before the canonical field (NeRF density or NeuS SDF) is evaluated there, and its colour
gets a residual ``dc(x, t)`` (specular highlights and instruments change colour where tissue does not
move). Both are linear heads over :class:`~stereo_nerf_core.fields.space_time.SpaceTimeVolumes`, which
start at zero: a fresh model is the static one, and a scene that never changes keeps it time-independent.
Time is normalised by the span the model covers (``time_span_s``); renders after it hold the last state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from stereo_nerf_core.fields.base import Field
from stereo_nerf_core.fields.nerf_field import NerfField, NerfFieldConfig
from stereo_nerf_core.fields.sdf_field import SdfField, SdfFieldConfig
from stereo_nerf_core.fields.space_time import SpaceTimeConfig, SpaceTimeVolumes
from stereo_nerf_core.learning_config import TrainerConfig
from stereo_nerf_core.models.base import Model
from stereo_nerf_core.models.errors import ModelError
from stereo_nerf_core.models.nerf import initialise_density
from stereo_nerf_core.models.neus import neus_callbacks, sdf_occupancy
from stereo_nerf_core.render.callbacks import RadianceCallbacks, Samples
from stereo_nerf_core.render.neus import eikonal_loss
from stereo_nerf_core.render.renderer import RenderOutput, SamplingConfig


@dataclass(frozen=True)
class DeformableFieldConfig:
    """Architecture of a deformable model."""

    canonical: NerfFieldConfig | SdfFieldConfig
    """The canonical (time-free) field."""
    space_time: SpaceTimeConfig = field(default_factory=SpaceTimeConfig)
    """The space-time features both heads read."""
    time_span_s: float = 1.0
    """Seconds from the first keyframe covered by the time knots; later times hold the last state."""

    def __post_init__(self) -> None:
        if not self.time_span_s > 0:
            raise ModelError(f"time_span_s must be > 0 seconds, got {self.time_span_s}")


class _DeformableModel(Model):
    """What both deformable models share: the space-time features, the heads and the time bookkeeping."""

    time_conditioned = True
    field: Field
    latest_s: Tensor

    def __init__(
        self, field_config: DeformableFieldConfig, *, bounds_min: Sequence[float], bounds_max: Sequence[float]
    ) -> None:
        super().__init__(field_config, bounds_min=bounds_min, bounds_max=bounds_max)
        self.span_s = field_config.time_span_s
        self.features = SpaceTimeVolumes(field_config.space_time, bounds_min=bounds_min, bounds_max=bounds_max)
        extent = max(b - a for a, b in zip(bounds_min, bounds_max, strict=True))
        self.motion_scale = 0.1 * extent
        """Metres of deformation per unit of the motion head's output."""
        self.motion = nn.Linear(self.features.output_dim, 3)
        self.colour = nn.Linear(self.features.output_dim, 3)
        with torch.no_grad():
            for head in (self.motion, self.colour):
                head.weight.normal_(0.0, 1e-2)
                head.bias.zero_()
        self.register_buffer("latest_s", torch.zeros(()))

    def observe_time(self, time_s: float) -> None:
        self.latest_s.fill_(max(float(self.latest_s), float(time_s)))

    def _unit_times(self, times: Tensor | None, count: int, device: torch.device) -> Tensor:
        if times is None:
            return torch.full((count,), float(self.latest_s) / self.span_s, device=device)
        return times.float() / self.span_s

    def _warp(self, positions: Tensor, times: Tensor | None) -> tuple[Tensor, Tensor]:
        """(deformed positions (M, 3), space-time features (M, F)) at ``times`` (M,) seconds (None: the latest)."""
        features = self.features(positions, self._unit_times(times, positions.shape[0], positions.device))
        moved = positions + self.motion_scale * self.motion(features).to(positions.dtype)
        return moved, features

    def _colour(self, rgb: Tensor, features: Tensor) -> Tensor:
        return (rgb.float() + self.colour(features).float()).clamp(0.0, 1.0)

    def _times(self, time_s: float | None, count: int, device: torch.device) -> Tensor | None:
        return None if time_s is None else torch.full((count,), float(time_s), device=device)

    def colour_at(self, positions: Tensor, directions: Tensor, time_s: float | None = None) -> Tensor:
        moved, features = self._warp(positions, self._times(time_s, positions.shape[0], positions.device))
        return self._colour(self.field(moved, directions).rgb, features)

    def losses(self, out: RenderOutput, config: TrainerConfig) -> dict[str, Tensor]:
        weight = config.time_smoothness_weight
        terms = {"time_smoothness": weight * time_smoothness(self.features) if weight > 0 else out.rgb.new_zeros(())}
        if out.gradients is not None:
            terms["eikonal"] = config.eikonal_weight * eikonal_loss(out.gradients)
        return terms


def time_smoothness(features: SpaceTimeVolumes) -> Tensor:
    """Mean squared difference between neighbouring time knots of every volume (a smooth deformation)."""
    return torch.stack([(volume[:, 1:] - volume[:, :-1]).pow(2).mean() for volume in features.planes]).mean()


class DeformableNerfModel(_DeformableModel):
    """A canonical :class:`NerfField` under the deformation (the replay's ``deformable`` method)."""

    geometry = "density"

    def __init__(
        self, field_config: DeformableFieldConfig, *, bounds_min: Sequence[float], bounds_max: Sequence[float]
    ) -> None:
        if not isinstance(field_config, DeformableFieldConfig) or not isinstance(
            field_config.canonical, NerfFieldConfig
        ):
            raise ModelError(
                f"the deformable model needs a DeformableFieldConfig over a NerfFieldConfig, got {field_config}"
            )
        super().__init__(field_config, bounds_min=bounds_min, bounds_max=bounds_max)
        self.field = NerfField(field_config.canonical, bounds_min=bounds_min, bounds_max=bounds_max)

    def callbacks(self) -> RadianceCallbacks:
        def rgb_sigma_fn(samples: Samples) -> tuple[Tensor, Tensor]:
            moved, features = self._warp(samples.positions, samples.times)
            output = self.field(moved, samples.directions)
            assert output.density is not None
            return self._colour(output.rgb, features), output.density

        def sigma_fn(samples: Samples) -> Tensor:
            return self.field.density(self._warp(samples.positions, samples.times)[0])

        return RadianceCallbacks(rgb_sigma_fn=rgb_sigma_fn, sigma_fn=sigma_fn)

    def geometry_at(self, positions: Tensor, time_s: float | None = None) -> Tensor:
        times = self._times(time_s, positions.shape[0], positions.device)
        return self.field.density(self._warp(positions, times)[0])

    def occupancy_opacity(self, positions: Tensor, *, step_m: float, cell_diagonal_m: float) -> Tensor:
        return -torch.expm1(-self.geometry_at(positions).float().clamp_min(0.0) * step_m)

    def initialise(self, sampling: SamplingConfig) -> None:
        assert isinstance(self.field, NerfField)
        initialise_density(self.field, sampling)


class DeformableSdfModel(_DeformableModel):
    """A canonical :class:`SdfField` under the deformation, rendered with NeuS (``deformable_sdf``)."""

    geometry = "sdf"

    def __init__(
        self, field_config: DeformableFieldConfig, *, bounds_min: Sequence[float], bounds_max: Sequence[float]
    ) -> None:
        if not isinstance(field_config, DeformableFieldConfig) or not isinstance(
            field_config.canonical, SdfFieldConfig
        ):
            raise ModelError(
                f"the deformable_sdf model needs a DeformableFieldConfig over an SdfFieldConfig, got {field_config}"
            )
        super().__init__(field_config, bounds_min=bounds_min, bounds_max=bounds_max)
        self.field = SdfField(field_config.canonical, bounds_min=bounds_min, bounds_max=bounds_max)

    def callbacks(self) -> RadianceCallbacks:
        def rgb_sdf_fn(samples: Samples) -> tuple[Tensor, Tensor, Tensor]:
            moved, features = self._warp(samples.positions, samples.times)
            output = self.field(moved, samples.directions)
            assert output.sdf is not None and output.gradient is not None
            return self._colour(output.rgb, features), output.sdf, output.gradient

        def sdf_fn(samples: Samples) -> Tensor:
            return self.field.sdf(self._warp(samples.positions, samples.times)[0])

        return neus_callbacks(sdf_fn, rgb_sdf_fn, self.field.inv_s())

    def geometry_at(self, positions: Tensor, time_s: float | None = None) -> Tensor:
        times = self._times(time_s, positions.shape[0], positions.device)
        return self.field.sdf(self._warp(positions, times)[0])

    def occupancy_opacity(self, positions: Tensor, *, step_m: float, cell_diagonal_m: float) -> Tensor:
        return sdf_occupancy(self.geometry_at(positions), self.field.inv_s(), cell_diagonal_m)
