"""Errors of the io layer: every message names the bag file, topic or encoding at fault."""

from stereo_nerf_core.errors import StereoNerfError


class BagError(StereoNerfError):
    """A bag cannot be opened or read: missing, corrupt, truncated, or without a required topic."""


class MessageError(StereoNerfError, ValueError):
    """A message cannot be converted: unknown encoding, size mismatch, missing calibration."""


class CalibrationFileError(StereoNerfError, ValueError):
    """A calibration file is missing, unreadable or incomplete (the message names the file and entry)."""


class DatasetError(StereoNerfError, ValueError):
    """A dataset folder or file is missing, unreadable or inconsistent (the message names the file)."""
