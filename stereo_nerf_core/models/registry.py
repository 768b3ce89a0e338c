"""The models by name: ``trainer.mode`` picks one (replay methods and the trainer node alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.models.base import Model
from stereo_nerf_core.models.deformable import DeformableNerfModel, DeformableSdfModel
from stereo_nerf_core.models.nerf import NerfModel
from stereo_nerf_core.models.neus import NeusModel

MODELS: dict[str, type[Model]] = {
    "nerf": NerfModel,
    "sdf": NeusModel,
    "deformable": DeformableNerfModel,
    "deformable_sdf": DeformableSdfModel,
}
"""Every model the trainer can build; a new model adds its entry here."""


def model_class(name: str) -> type[Model]:
    """The model registered as ``name``; :class:`ConfigError` naming ``trainer.mode`` otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"trainer.mode must be one of {sorted(MODELS)}, got {name!r}") from None


def build_model(
    name: str, field_config: Any, *, bounds_min: Sequence[float], bounds_max: Sequence[float], seed: int
) -> Model:
    """The model ``name``, initialised from ``seed`` without touching torch's global generator state."""
    cls = model_class(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(field_config, bounds_min=bounds_min, bounds_max=bounds_max)
