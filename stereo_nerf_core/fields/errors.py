"""Errors of the fields package."""

from stereo_nerf_core.errors import StereoNerfError


class FieldError(StereoNerfError, ValueError):
    """A field, encoding or its configuration got malformed input (the message states the expected shape or range)."""
