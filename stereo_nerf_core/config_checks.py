"""Range checks shared by the configuration dataclasses."""

from __future__ import annotations

from stereo_nerf_core.errors import ConfigError


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raise :class:`ConfigError` naming parameter ``name`` unless ``low <= value <= high``."""
    if not (low <= value <= high):
        raise ConfigError(f"parameter {name} = {value} is out of range [{low}, {high}]")
