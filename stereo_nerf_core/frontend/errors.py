"""Errors of the front-end."""

from stereo_nerf_core.errors import StereoNerfError


class FrontendError(StereoNerfError, ValueError):
    """A stereo pair cannot be processed (size or encoding mismatch, missing calibration)."""
