"""Errors of the model layer."""

from __future__ import annotations

from stereo_nerf_core.errors import StereoNerfError


class ModelError(StereoNerfError, ValueError):
    """A model got a configuration or input it cannot use."""
