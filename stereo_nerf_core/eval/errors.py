"""Errors of the evaluation layer."""

from stereo_nerf_core.errors import StereoNerfError


class EvaluationError(StereoNerfError, ValueError):
    """Inputs to a metric, figure or report are malformed (the message states the expected shape or range)."""
