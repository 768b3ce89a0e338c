"""The dense depth prior: its data type, the backend protocol and the backend registry.

A backend turns a rectified pair into a :class:`DepthPrior` on the rectified left grid. Backends are
chosen by name with ``depth_prior.backend``; :func:`make_prior_backend` builds one from the config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.geometry.camera import StereoCalibration


@dataclass(frozen=True)
class DepthPrior:
    """A dense prior on the rectified left grid."""

    disparity: NDArray[np.float32]
    """(H, W) disparity in pixels, left reference, 0 where none."""
    depth: NDArray[np.float32]
    """(H, W) depth in metres along the rectified optical axis, 0 where none."""
    confidence: NDArray[np.float32]
    """(H, W) confidence in [0, 1], 0 where there is no depth."""
    filled: NDArray[np.bool_] | None = None
    """(H, W) pixels whose depth comes from hole filling rather than a match; ``None``: nothing filled."""

    @property
    def valid(self) -> NDArray[np.bool_]:
        """(H, W) pixels that carry a depth."""
        return self.depth > 0

    @property
    def matched(self) -> NDArray[np.bool_]:
        """(H, W) pixels whose depth comes from a match (valid and not filled)."""
        return self.valid if self.filled is None else self.valid & ~self.filled

    def without_filled(self) -> DepthPrior:
        """The raw prior: the same maps with the filled pixels emptied (0)."""
        if self.filled is None:
            return self
        keep = ~self.filled
        return DepthPrior(
            disparity=np.where(keep, self.disparity, 0).astype(np.float32),
            depth=np.where(keep, self.depth, 0).astype(np.float32),
            confidence=np.where(keep, self.confidence, 0).astype(np.float32),
            filled=None,
        )


class PriorBackend(Protocol):
    """Computes a :class:`DepthPrior` from a rectified uint8 pair (H, W[, 3])."""

    def estimate(
        self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration
    ) -> DepthPrior: ...


BackendFactory = Callable[[DepthPriorConfig], PriorBackend]
_BACKENDS: dict[str, BackendFactory] = {}


def register_prior_backend(name: str, factory: BackendFactory) -> None:
    """Make ``depth_prior.backend: name`` build backends with ``factory``."""
    _BACKENDS[name] = factory


def prior_backend_names() -> list[str]:
    """Names accepted by ``depth_prior.backend``."""
    _load_builtin_backends()
    return sorted(_BACKENDS)


def make_prior_backend(config: DepthPriorConfig) -> PriorBackend:
    """The backend ``config.backend`` names; an unknown name is a :class:`ConfigError` listing the known ones."""
    _load_builtin_backends()
    factory = _BACKENDS.get(config.backend)
    if factory is None:
        raise ConfigError(f"unknown depth_prior.backend {config.backend!r}; known: {sorted(_BACKENDS)}")
    return factory(config)


def _load_builtin_backends() -> None:
    # Imported here so each backend module registers itself without an import cycle.
    from stereo_nerf_core.frontend import seeded, sgbm, torchscript_prior  # noqa: F401
    from stereo_nerf_core.frontend.self_supervised import backend  # noqa: F401
