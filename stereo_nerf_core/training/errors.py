"""Errors of the training package."""

from stereo_nerf_core.errors import StereoNerfError


class TrainingError(StereoNerfError, ValueError):
    """Training cannot proceed as asked: bad keyframe data, empty buffer, bad checkpoint (the message says which)."""
