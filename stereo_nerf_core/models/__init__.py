"""Models: a field, its render callbacks and its loss terms, behind one interface, registered by name."""

from stereo_nerf_core.models.base import Model
from stereo_nerf_core.models.errors import ModelError
from stereo_nerf_core.models.nerf import NerfModel, density_callbacks
from stereo_nerf_core.models.neus import NeusModel, sdf_callbacks
from stereo_nerf_core.models.registry import MODELS, build_model, model_class

__all__ = [
    "MODELS",
    "Model",
    "ModelError",
    "NerfModel",
    "NeusModel",
    "build_model",
    "density_callbacks",
    "model_class",
    "sdf_callbacks",
]
