"""The torch device a parameter names ("auto": CUDA when this torch has it, else the CPU)."""

from __future__ import annotations

from stereo_nerf_core.errors import ConfigError


def resolve_device(requested: str, *, parameter: str) -> str:
    """The device for ``requested`` ("auto", "cpu", "cuda", "cuda:1", ...); ConfigError naming ``parameter`` when
    it asks for CUDA and this torch has none. Imports torch (only the parts that use it call this)."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise ConfigError(f"{parameter} is {requested!r}: not a torch device ({error})") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{parameter} is {requested!r} but this torch has no CUDA device; use 'cpu' or 'auto'")
    return requested
