"""Errors of the geometry layer."""

from stereo_nerf_core.errors import StereoNerfError


class GeometryError(StereoNerfError, ValueError):
    """A camera, rig or transform is malformed (the message states the expected shape or range)."""
