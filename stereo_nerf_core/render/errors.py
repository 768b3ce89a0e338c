"""Errors of the render package."""

from stereo_nerf_core.errors import StereoNerfError


class RenderError(StereoNerfError, ValueError):
    """Rays, samples or render inputs are malformed (the message states the expected shape or range)."""
