"""The network as callbacks (nerfacc style): the renderer samples, calls these, and composites.

A model hands the renderer one :class:`RadianceCallbacks`: either the density pair
(``rgb_sigma_fn`` and the gradient-free ``sigma_fn`` of the coarse pass) or the opacity pair
(``rgb_alpha_fn`` and ``alpha_fn``, e.g. NeuS). Each callback gets the evaluated samples of a batch
of rays as one :class:`Samples` (with the rays' times, for time-conditioned models).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from stereo_nerf_core.render.errors import RenderError


@dataclass(frozen=True)
class Samples:
    """M evaluated samples of N rays."""

    positions: Tensor
    """(M, 3) world metres."""
    directions: Tensor
    """(M, 3) unit view directions of their rays."""
    ray_indices: Tensor
    """(M,) int64 index of each sample's ray in the bundle."""
    t_mid: Tensor
    """(M,) ray distance of each sample's interval centre, metres."""
    deltas: Tensor
    """(M,) interval lengths, metres."""
    rays_by_samples: tuple[int, int] | None
    """(N, S) when every sample of every ray is present in ray-major order (``view(N, S)`` is valid), else None."""
    times: Tensor | None = None
    """(M,) time of each sample's ray in seconds (from ``RayBundle.times``), or None."""


SigmaFn = Callable[[Samples], Tensor]
"""Density (M,) in 1/m, without the colour branch (the coarse pass runs it without gradients)."""
RgbSigmaFn = Callable[[Samples], tuple[Tensor, Tensor]]
"""(colour (M, 3) in [0, 1], density (M,) in 1/m)."""
AlphaFn = Callable[[Samples], Tensor]
"""Opacity (M,) in [0, 1], without the colour branch and without gradients (the coarse pass)."""
RgbAlphaFn = Callable[[Samples], tuple[Tensor, Tensor, Tensor | None]]
"""(colour (M, 3), opacity (M,), geometry gradient (M, 3) or None: normals and the eikonal loss)."""


@dataclass(frozen=True)
class RadianceCallbacks:
    """One of the two callback pairs (see the module docstring)."""

    rgb_sigma_fn: RgbSigmaFn | None = None
    sigma_fn: SigmaFn | None = None
    rgb_alpha_fn: RgbAlphaFn | None = None
    alpha_fn: AlphaFn | None = None

    def __post_init__(self) -> None:
        density = self.rgb_sigma_fn is not None and self.sigma_fn is not None
        opacity = self.rgb_alpha_fn is not None and self.alpha_fn is not None
        given = [name for name in ("rgb_sigma_fn", "sigma_fn", "rgb_alpha_fn", "alpha_fn") if getattr(self, name)]
        if density == opacity or len(given) != 2:
            raise RenderError(
                "RadianceCallbacks needs exactly one pair: (rgb_sigma_fn, sigma_fn) or (rgb_alpha_fn, alpha_fn), "
                f"got {given}"
            )

    @property
    def emits_density(self) -> bool:
        """Whether the network gives densities (transmittance pruning applies while marching)."""
        return self.rgb_sigma_fn is not None
