"""Errors of the pipeline layer."""

from stereo_nerf_core.errors import StereoNerfError


class ReplayError(StereoNerfError):
    """The replay cannot start or go on (the message names the bag, topic or output at fault)."""
