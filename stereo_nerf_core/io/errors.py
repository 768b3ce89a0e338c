"""Errors of the io layer: every message names the bag file, topic or encoding at fault."""

from stereo_nerf_core.errors import StereoNerfError


class BagError(StereoNerfError):
    """A bag cannot be opened or read: missing, corrupt, truncated, or without a required topic."""


class MessageError(StereoNerfError, ValueError):
    """A message cannot be converted: unknown encoding, size mismatch, missing calibration.

    ``cause`` (per class) and ``topic`` (per message, when known) let a live node count and log it per cause.
    """

    cause = "bad message"

    def __init__(self, message: str, *, topic: str | None = None) -> None:
        super().__init__(message)
        self.topic = topic


class EncodingError(MessageError):
    """An image encoding the pipeline does not read."""

    cause = "unknown encoding"


class CameraInfoError(MessageError):
    """A camera_info that describes no camera: K or P zero or not finite, an unknown distortion model."""

    cause = "invalid camera_info"


class ImageSizeError(MessageError):
    """An image whose size differs from its camera_info (or from its partner image)."""

    cause = "image size differs from camera_info"


class CalibrationFileError(StereoNerfError, ValueError):
    """A calibration file is missing, unreadable or incomplete (the message names the file and entry)."""


class DatasetError(StereoNerfError, ValueError):
    """A dataset folder or file is missing, unreadable or inconsistent (the message names the file)."""
