"""Errors of the silhouette-alignment package."""

from stereo_nerf_core.errors import StereoNerfError


class AlignmentError(StereoNerfError, ValueError):
    """A mesh, mask, camera or pose given to silhouette alignment is unusable (the message names which and why)."""
