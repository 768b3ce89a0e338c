"""Root of the library's exception tree; each subpackage derives its own errors from it."""


class StereoNerfError(Exception):
    """Base class of every error raised on purpose by stereo_nerf_core."""


class ConfigError(StereoNerfError, ValueError):
    """A configuration file or parameter is missing, unknown or out of range (the message names it)."""
