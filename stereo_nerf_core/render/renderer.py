"""Render rays through a network given as callbacks: sampling, evaluation, compositing.

``render_rays`` is a pure function; the network enters as :class:`~.callbacks.RadianceCallbacks`
(densities or opacities). Sampling:

* with a depth prior, one pass of ``gaussian_count`` Gaussian + ``uniform_count`` uniform samples
  per ray (rays without a usable prior get as many uniform samples);
* without one, ``uniform_count`` uniform samples are evaluated without gradients (``sigma_fn`` or
  ``alpha_fn``), ``importance_count`` samples are
  drawn from their weights (max-blurred over neighbours, mip-NeRF) and the network is evaluated,
  with gradients, on the union of both sets;
* without one but with an updated :class:`~stereo_nerf_core.render.occupancy.OccupancyGrid` and
  ``march_candidates > 0``, rays march through occupied cells only (at most ``march_max_samples``
  evaluated samples per ray; see :func:`~stereo_nerf_core.render.occupancy.occupied_samples`).

``near_m`` / ``far_m`` are depths Z along each ray's optical axis (a slab in front of the camera),
converted per ray to distances ``Z / z_per_distance``. Rendered ``depth`` is Z in metres (REP 118).
All tensors follow the rays' device; volume rendering runs in float32 (also under autocast).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from stereo_nerf_core.render.callbacks import RadianceCallbacks, Samples
from stereo_nerf_core.render.errors import RenderError
from stereo_nerf_core.render.occupancy import OccupancyGrid, occupied_samples
from stereo_nerf_core.render.rays import RayBundle, image_rays
from stereo_nerf_core.render.sampling import (
    depth_guided_samples,
    importance_samples,
    sample_midpoints_and_deltas,
    uniform_samples,
)
from stereo_nerf_core.render.volume import composite, expected_depth, nerf_alpha, transmittance_weights


@dataclass(frozen=True)
class SamplingConfig:
    """How rays are sampled (see the module docstring)."""

    near_m: float = 0.01
    """Near limit as depth Z in metres along the optical axis."""
    far_m: float = 0.25
    """Far limit as depth Z in metres along the optical axis."""
    uniform_count: int = 16
    """Stratified uniform samples: the coarse pass without a prior, the uniform share with one."""
    gaussian_count: int = 32
    """Samples from the Gaussian around the depth prior (rays with a prior)."""
    importance_count: int = 48
    """Samples drawn from the coarse weights (rays rendered without a prior); 0 disables the coarse pass."""
    sigma_min_m: float = 0.002
    """Standard deviation in Z of the prior at confidence 1, metres."""
    sigma_max_m: float = 0.02
    """Standard deviation in Z of the prior at confidence 0+, metres."""
    chunk_size: int = 8192
    """Rays rendered at once by :func:`render_image` (on CPU about 1024 is faster: smaller temporaries)."""
    march_candidates: int = 0
    """Equal marching steps from near to far through an occupancy grid (0: never march)."""
    march_max_samples: int = 64
    """Most samples evaluated per marched ray (denser occupied stretches are thinned evenly)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.near_m < self.far_m:
            raise RenderError(f"need 0 < near_m < far_m, got {self.near_m} and {self.far_m}")
        if self.uniform_count < 1 or self.gaussian_count < 1 or self.importance_count < 0:
            raise RenderError(
                "need uniform_count >= 1, gaussian_count >= 1 and importance_count >= 0, got "
                f"{self.uniform_count}, {self.gaussian_count}, {self.importance_count}"
            )
        if not 0.0 < self.sigma_min_m <= self.sigma_max_m:
            raise RenderError(f"need 0 < sigma_min_m <= sigma_max_m, got {self.sigma_min_m} and {self.sigma_max_m}")
        if self.chunk_size < 1:
            raise RenderError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.march_candidates < 0 or self.march_max_samples < 1:
            raise RenderError(
                f"need march_candidates >= 0 and march_max_samples >= 1, got {self.march_candidates}, "
                f"{self.march_max_samples}"
            )


@dataclass
class RenderOutput:
    """Per-ray results of N rays with S samples each."""

    rgb: Tensor
    """(N, 3) colour in [0, 1] (plus ``(1 - opacity) * background`` when a background is given)."""
    depth: Tensor
    """(N,) expected depth Z in metres, normalised by the opacity; 0 where the opacity is below 1e-6."""
    opacity: Tensor
    """(N,) accumulated opacity = sum of the weights, in [0, 1]."""
    normals: Tensor | None
    """(N, 3) weight-averaged unit geometry gradients (SDF: pointing into free space) when the network gives them."""
    weights: Tensor
    """(N, S) volume-rendering weights."""
    t: Tensor
    """(N, S) ray distances (metres) of the interval centres where the field was evaluated."""
    gradients: Tensor | None
    """(M, 3) geometry gradients at the M evaluated samples (the eikonal loss), when the network gives them."""
    deltas: Tensor | None = None
    """(N, S) interval lengths in metres (e.g. for a distortion loss)."""


def _check_ray_vector(name: str, value: Tensor | None, n: int) -> None:
    if value is not None and tuple(value.shape) != (n,):
        raise RenderError(f"{name} must have shape (N,) = ({n},), got {tuple(value.shape)}")


def render_rays(
    network: RadianceCallbacks,
    rays: RayBundle,
    config: SamplingConfig,
    *,
    depth_prior: Tensor | None = None,
    confidence: Tensor | None = None,
    generator: torch.Generator | None = None,
    background: Tensor | None = None,
    stratified: bool = False,
    occupancy: OccupancyGrid | None = None,
) -> RenderOutput:
    """Render ``rays`` through the ``network`` callbacks (densities or opacities, see :mod:`.callbacks`).

    ``depth_prior`` (N,) is the stereo Z in metres (0 / NaN = none) with ``confidence`` (N,) in [0, 1]
    (default 1). ``background`` (3,) or (N, 3) fills the transparent part of the colour. Sampling is
    jittered when ``stratified``, else deterministic. ``occupancy`` (updated at least once) lets
    prior-less rays march through occupied space when ``config.march_candidates > 0``.
    """
    n = len(rays)
    _check_ray_vector("depth_prior", depth_prior, n)
    _check_ray_vector("confidence", confidence, n)
    if background is not None and tuple(background.shape) not in ((3,), (n, 3)):
        raise RenderError(f"background must have shape (3,) or (N, 3) = ({n}, 3), got {tuple(background.shape)}")
    zpd = rays.z_per_distance.float()
    near, far = config.near_m / zpd, config.far_m / zpd
    if depth_prior is not None:
        t = depth_guided_samples(
            depth_prior,
            torch.ones_like(zpd) if confidence is None else confidence,
            zpd,
            count_gaussian=config.gaussian_count,
            count_uniform=config.uniform_count,
            near=near,
            far=far,
            sigma_min_m=config.sigma_min_m,
            sigma_max_m=config.sigma_max_m,
            generator=generator,
            stratified=stratified,
        )
    elif occupancy is not None and occupancy.updates > 0 and config.march_candidates > 0:
        marched = occupied_samples(
            rays.origins, rays.directions, near, far, occupancy, candidates=config.march_candidates,
            max_samples=config.march_max_samples, stratified=stratified, generator=generator,
            transmittance_pruning=network.emits_density,
        )
        return _render_samples(network, rays, marched.t_mid, marched.deltas, background, marched.valid)
    else:
        t = uniform_samples(near, far, config.uniform_count, stratified=stratified, generator=generator)
        if config.importance_count > 0:
            coarse = _max_blur(_coarse_weights(network, rays, t))
            fine = importance_samples(
                t, coarse, config.importance_count, generator=generator, deterministic=not stratified
            )
            t = torch.sort(torch.cat([t, fine], dim=1), dim=1).values
    t_mid, deltas = sample_midpoints_and_deltas(t)
    return _render_samples(network, rays, t_mid, deltas, background)


def _max_blur(weights: Tensor) -> Tensor:
    """mip-NeRF's 2-tap max then 2-tap mean: a surface between two coarse samples gets fine samples on both sides."""
    padded = torch.cat([weights[:, :1], weights, weights[:, -1:]], dim=1)
    peak = torch.maximum(padded[:, :-1], padded[:, 1:])
    return 0.5 * (peak[:, :-1] + peak[:, 1:])


def _samples(rays: RayBundle, t_mid: Tensor, deltas: Tensor, valid: Tensor | None) -> Samples:
    """The samples at ``t_mid`` (N, S), only those where ``valid`` (N, S) when given."""
    n, s = t_mid.shape
    positions = rays.origins[:, None, :] + rays.directions[:, None, :] * t_mid[..., None].to(rays.origins.dtype)
    directions = rays.directions[:, None, :].expand(n, s, 3)
    ray_indices = torch.arange(n, device=t_mid.device)[:, None].expand(n, s)
    if valid is None:
        flat = ray_indices.reshape(-1)
        return Samples(
            positions.reshape(-1, 3), directions.reshape(-1, 3), flat, t_mid.reshape(-1), deltas.reshape(-1), (n, s),
            None if rays.times is None else rays.times[flat],
        )
    chosen = ray_indices[valid]
    return Samples(
        positions[valid], directions[valid], chosen, t_mid[valid], deltas[valid], None,
        None if rays.times is None else rays.times[chosen],
    )


@torch.no_grad()
def _coarse_weights(network: RadianceCallbacks, rays: RayBundle, t: Tensor) -> Tensor:
    t_mid, deltas = sample_midpoints_and_deltas(t)
    samples = _samples(rays, t_mid.detach(), deltas, None)
    if network.sigma_fn is not None:
        alpha = nerf_alpha(network.sigma_fn(samples).float().view_as(t_mid), deltas)
    else:
        assert network.alpha_fn is not None
        alpha = network.alpha_fn(samples).float().view_as(t_mid)
    return transmittance_weights(alpha)


def _scatter_samples(values: Tensor, valid: Tensor | None) -> Tensor:
    """(N, S, ...) values of the evaluated samples: ``values`` (M, ...) placed at ``valid`` (N, S), zeros elsewhere."""
    if valid is None:
        return values
    full = values.new_zeros((valid.numel(), *values.shape[1:]))
    return full.index_copy(0, valid.reshape(-1).nonzero().squeeze(1), values)


def _render_samples(
    network: RadianceCallbacks,
    rays: RayBundle,
    t_mid: Tensor,
    deltas: Tensor,
    background: Tensor | None,
    valid: Tensor | None = None,
) -> RenderOutput:
    """Evaluate the network at ``t_mid`` (N, S) (only where ``valid``, when given) and volume-render."""
    n, s = t_mid.shape
    samples = _samples(rays, t_mid, deltas, valid)
    gradients = None
    if network.rgb_sigma_fn is not None:
        colour, sigma = network.rgb_sigma_fn(samples)
        alpha = nerf_alpha(_scatter_samples(sigma.float(), valid).view(n, s), deltas)
    else:
        assert network.rgb_alpha_fn is not None
        colour, opacity, gradients = network.rgb_alpha_fn(samples)
        alpha = _scatter_samples(opacity.float(), valid).view(n, s)
    weights = transmittance_weights(alpha)
    opacity_sum = weights.sum(dim=1)
    rgb = composite(weights, _scatter_samples(colour.float(), valid).view(n, s, 3))
    if background is not None:
        rgb = rgb + (1.0 - opacity_sum)[:, None] * background.to(rgb)
    normals = None
    if gradients is not None:
        gradients = gradients.float()
        unit = torch.nn.functional.normalize(_scatter_samples(gradients, valid), dim=1, eps=1e-12).view(n, s, 3)
        visible = (opacity_sum > 1e-6)[:, None]
        normals = torch.where(visible, composite(weights, unit) / opacity_sum.clamp_min(1e-6)[:, None], 0.0)
    depth = expected_depth(weights, t_mid, rays.z_per_distance.float())
    return RenderOutput(rgb, depth, opacity_sum, normals, weights, t_mid, gradients, deltas)


def render_image(
    network: RadianceCallbacks,
    K: Tensor,
    T_world_camera: Tensor,
    width: int,
    height: int,
    config: SamplingConfig,
    *,
    chunk: int | None = None,
    depth_prior: Tensor | None = None,
    confidence: Tensor | None = None,
    background: Tensor | None = None,
    occupancy: OccupancyGrid | None = None,
    time_s: float | None = None,
) -> RenderOutput:
    """Render a full ``width`` x ``height`` image (row-major H * W outputs) without gradients.

    Deterministic sampling, ``chunk`` rays at a time (default ``config.chunk_size``); ``gradients``
    is None. ``depth_prior`` / ``confidence`` (H * W,) optionally guide the sampling; ``time_s``
    is every ray's time (time-conditioned networks).
    """
    rays = image_rays(K, T_world_camera, width, height)
    if time_s is not None:
        rays.times = torch.full((len(rays),), float(time_s), device=rays.origins.device)
    n = len(rays)
    _check_ray_vector("depth_prior", depth_prior, n)
    _check_ray_vector("confidence", confidence, n)
    step = config.chunk_size if chunk is None else chunk
    if step < 1:
        raise RenderError(f"chunk must be >= 1, got {step}")
    parts: list[RenderOutput] = []
    with torch.no_grad():
        for start in range(0, n, step):
            part = slice(start, min(start + step, n))
            out = render_rays(
                network,
                rays.index(part),
                config,
                depth_prior=None if depth_prior is None else depth_prior[part],
                confidence=None if confidence is None else confidence[part],
                background=background,
                stratified=False,
                occupancy=occupancy,
            )
            out.gradients = None
            parts.append(out)
    return _concatenate(parts)


def _concatenate(parts: list[RenderOutput]) -> RenderOutput:
    def cat(name: str) -> Tensor | None:
        values = [getattr(part, name) for part in parts]
        return None if values[0] is None else torch.cat(values)

    rgb, depth, opacity, weights, t = (cat(name) for name in ("rgb", "depth", "opacity", "weights", "t"))
    assert rgb is not None and depth is not None and opacity is not None and weights is not None and t is not None
    return RenderOutput(rgb, depth, opacity, cat("normals"), weights, t, None, cat("deltas"))
