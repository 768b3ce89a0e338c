"""Sample distances along rays: uniform (stratified), depth-guided (Gaussian around a stereo prior), importance.

Pure functions. Distances ``t`` are metres along unit ray directions, sorted per ray. Randomness
comes only from the explicit ``generator`` (None: torch's default generator), which must live on
the inputs' device. A sample set ``t`` (N, S) defines S contiguous intervals (see
:func:`sample_midpoints_and_deltas`): the field is evaluated at their centres ``t_mid`` and
``deltas`` are their lengths, so every sample owns one interval and nothing is lost at the ends.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from stereo_nerf_core.render.errors import RenderError


def _rays_vector(name: str, value: Tensor | float, n: int, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        if value.shape not in ((), (n,)):
            raise RenderError(f"{name} must be a scalar or have shape (N,) = ({n},), got {tuple(value.shape)}")
        return value.to(device=like.device, dtype=like.dtype).expand(n)
    return torch.full((n,), float(value), device=like.device, dtype=like.dtype)


def _strata(n: int, count: int, *, stratified: bool, generator: torch.Generator | None, like: Tensor) -> Tensor:
    """(n, count) sorted values in [0, 1): one per equal stratum, jittered or at the stratum centres."""
    base = torch.arange(count, device=like.device, dtype=like.dtype)
    if stratified:
        jitter = torch.rand((n, count), generator=generator, device=like.device, dtype=like.dtype)
    else:
        jitter = torch.full((n, count), 0.5, device=like.device, dtype=like.dtype)
    return (base + jitter) / count


def uniform_samples(
    near: Tensor, far: Tensor, count: int, *, stratified: bool, generator: torch.Generator | None
) -> Tensor:
    """(N, count) sorted distances in [near, far): one per equal stratum, jittered if ``stratified`` else centred.

    ``near`` and ``far`` are (N,) distances along the rays.
    """
    if near.ndim != 1 or far.shape != near.shape:
        raise RenderError(f"near and far must both have shape (N,), got {tuple(near.shape)} and {tuple(far.shape)}")
    if count < 1:
        raise RenderError(f"sample count must be >= 1, got {count}")
    u = _strata(near.shape[0], count, stratified=stratified, generator=generator, like=near)
    return near[:, None] + (far - near)[:, None] * u


def has_prior(depth_z: Tensor, confidence: Tensor) -> Tensor:
    """(N,) bool: the ray has a usable depth prior (finite depth > 0 and confidence > 0)."""
    return torch.isfinite(depth_z) & (depth_z > 0) & (confidence > 0)


def depth_guided_samples(
    depth_z: Tensor,
    confidence: Tensor,
    z_per_distance: Tensor,
    *,
    count_gaussian: int,
    count_uniform: int,
    near: Tensor | float,
    far: Tensor | float,
    sigma_min_m: float,
    sigma_max_m: float,
    generator: torch.Generator | None,
    stratified: bool = True,
) -> Tensor:
    """(N, count_gaussian + count_uniform) sorted distances, dense around a stereo depth prior (NerfingMVS).

    ``depth_z`` (N,) is the prior Z (metres along the optical axis), ``confidence`` (N,) in [0, 1]
    (clamped), ``z_per_distance`` (N,) converts Z to ray distance ``t = Z / z_per_distance``; ``near``
    and ``far`` are ray distances (scalars or (N,)). The prior in depth is N(Z, sigma^2) with
    ``sigma = sigma_min_m + (1 - confidence) * (sigma_max_m - sigma_min_m)``, i.e. N(Z / zpd, (sigma / zpd)^2)
    in distance: ``count_gaussian`` samples are its quantiles at stratified-jittered levels (a
    low-variance draw of that Gaussian), clamped into [near, far]; ``count_uniform`` stratified
    samples cover [near, far]. Rays without a usable prior (depth <= 0 or NaN/inf, confidence <= 0
    or NaN, or the prior distance outside [near, far]) get ``count_gaussian + count_uniform``
    stratified uniform samples instead.
    """
    n = depth_z.shape[0] if depth_z.ndim == 1 else -1
    for name, value in (("depth_z", depth_z), ("confidence", confidence), ("z_per_distance", z_per_distance)):
        if value.ndim != 1 or value.shape[0] != n:
            raise RenderError(f"{name} must have shape (N,) like depth_z, got {tuple(value.shape)}")
    if count_gaussian < 1 or count_uniform < 0:
        raise RenderError(f"need count_gaussian >= 1 and count_uniform >= 0, got {count_gaussian}, {count_uniform}")
    if not 0.0 < sigma_min_m <= sigma_max_m:
        raise RenderError(f"need 0 < sigma_min_m <= sigma_max_m, got {sigma_min_m} and {sigma_max_m}")
    like = z_per_distance if z_per_distance.is_floating_point() else depth_z
    near_t, far_t = _rays_vector("near", near, n, like), _rays_vector("far", far, n, like)
    total = count_gaussian + count_uniform
    depth = depth_z.to(like.dtype)
    conf = confidence.to(like.dtype)
    mean = depth / z_per_distance
    valid = has_prior(depth, conf) & (mean >= near_t) & (mean <= far_t)
    sigma = (sigma_min_m + (1.0 - conf.clamp(0.0, 1.0)) * (sigma_max_m - sigma_min_m)) / z_per_distance
    mean = torch.where(valid, mean, 0.5 * (near_t + far_t))
    sigma = torch.where(valid, sigma, torch.ones_like(sigma))
    eps = 0.5 / (count_gaussian * 1000.0)
    levels = _strata(n, count_gaussian, stratified=stratified, generator=generator, like=like).clamp(eps, 1.0 - eps)
    gaussian = mean[:, None] + sigma[:, None] * math.sqrt(2.0) * torch.erfinv(2.0 * levels - 1.0)
    gaussian = torch.minimum(torch.maximum(gaussian, near_t[:, None]), far_t[:, None])
    if count_uniform:
        spread = uniform_samples(near_t, far_t, count_uniform, stratified=stratified, generator=generator)
        guided = torch.sort(torch.cat([gaussian, spread], dim=1), dim=1).values
    else:
        guided = gaussian
    fallback = uniform_samples(near_t, far_t, total, stratified=stratified, generator=generator)
    return torch.where(valid[:, None], guided, fallback)


def sample_midpoints_and_deltas(t: Tensor) -> tuple[Tensor, Tensor]:
    """Interval centres ``t_mid`` (N, S) and lengths ``deltas`` (N, S) of sorted samples ``t`` (N, S).

    Interval edges are the midpoints between neighbouring samples; the outer edges mirror the
    first and last gaps (so a single sample gets a zero-length interval) and the lower edge is
    clamped at 0. The intervals tile ``[edge_0, edge_S]`` without gaps; for evenly spaced samples
    ``t_mid == t``. Evaluate the field at ``t_mid`` (the NeuS section estimate assumes the centre).
    """
    edges = sample_edges(t)
    return 0.5 * (edges[:, 1:] + edges[:, :-1]), edges[:, 1:] - edges[:, :-1]


def sample_edges(t: Tensor) -> Tensor:
    """Interval edges (N, S + 1) of sorted samples ``t`` (N, S); see :func:`sample_midpoints_and_deltas`."""
    if t.ndim != 2 or t.shape[1] < 1:
        raise RenderError(f"t must have shape (N, S) with S >= 1, got {tuple(t.shape)}")
    if t.shape[1] == 1:
        return torch.cat([t, t], dim=1)
    inner = 0.5 * (t[:, 1:] + t[:, :-1])
    first = (2.0 * t[:, :1] - inner[:, :1]).clamp_min(0.0)
    last = 2.0 * t[:, -1:] - inner[:, -1:]
    return torch.cat([first, inner, last], dim=1)


def importance_samples(
    t: Tensor, weights: Tensor, count: int, *, generator: torch.Generator | None, deterministic: bool
) -> Tensor:
    """(N, count) sorted distances drawn from the piecewise-constant PDF of ``weights`` (N, S) over ``t``'s intervals.

    Inverse-CDF sampling (NeRF's hierarchical sampling) with stratified levels: jittered, or the
    stratum centres when ``deterministic``. A small floor (1e-5 of the ray's weight mass plus 1e-8)
    keeps empty rays uniform. No gradient flows through the result.
    """
    if t.ndim != 2 or weights.shape != t.shape:
        raise RenderError(f"t and weights must both have shape (N, S), got {tuple(t.shape)} and {tuple(weights.shape)}")
    if count < 1:
        raise RenderError(f"importance sample count must be >= 1, got {count}")
    with torch.no_grad():
        edges = sample_edges(t.float())
        w = weights.detach().float().clamp_min(0.0)
        w = w + 1e-5 * w.sum(dim=1, keepdim=True) + 1e-8
        cdf = torch.cumsum(w, dim=1)
        cdf = torch.cat([torch.zeros_like(cdf[:, :1]), cdf / cdf[:, -1:]], dim=1)  # (N, S + 1)
        u = _strata(t.shape[0], count, stratified=not deterministic, generator=generator, like=cdf)
        above = torch.searchsorted(cdf, u.contiguous(), right=True).clamp(1, t.shape[1])
        below = above - 1
        cdf_lo, cdf_hi = cdf.gather(1, below), cdf.gather(1, above)
        edge_lo, edge_hi = edges.gather(1, below), edges.gather(1, above)
        fraction = ((u - cdf_lo) / (cdf_hi - cdf_lo).clamp_min(1e-12)).clamp(0.0, 1.0)
        return (edge_lo + fraction * (edge_hi - edge_lo)).to(t.dtype)
