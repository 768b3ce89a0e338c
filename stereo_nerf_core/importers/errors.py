"""Errors of the importers: every message names the file, folder or option at fault."""

from stereo_nerf_core.errors import StereoNerfError


class ImporterError(StereoNerfError):
    """A dataset cannot be imported: missing or unreadable file, inconsistent folder, bad option."""
