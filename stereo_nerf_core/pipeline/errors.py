"""Errors of the pipeline layer."""

from stereo_nerf_core.errors import StereoNerfError


class ReplayError(StereoNerfError):
    """The replay cannot start or go on (the message names the bag, topic or output at fault)."""


class PipelineError(StereoNerfError, ValueError):
    """A node stage got inputs it cannot use or is used out of order (the message names the node and topic)."""
