"""Volume rendering: alpha from density, transmittance weights, compositing and expected depth.

Pure functions on per-ray sample tensors (N, S), computed in the inputs' dtype (the renderer
passes float32). Weights ``w_i = alpha_i * prod_{j<i} (1 - alpha_j)`` (exclusive cumulative
product), so ``sum_i w_i = 1 - prod_i (1 - alpha_i)`` = opacity.
"""

from __future__ import annotations

import torch
from torch import Tensor

from stereo_nerf_core.render.errors import RenderError


def _check_samples(name: str, value: Tensor, like: Tensor | None = None) -> None:
    if value.ndim != 2 or (like is not None and value.shape != like.shape):
        expected = "(N, S)" if like is None else f"(N, S) = {tuple(like.shape)}"
        raise RenderError(f"{name} must have shape {expected}, got {tuple(value.shape)}")


def nerf_alpha(density: Tensor, deltas: Tensor) -> Tensor:
    """Alpha (N, S) = ``1 - exp(-density * delta)`` of densities (N, S) in 1/m over interval lengths (N, S) in m."""
    _check_samples("density", density)
    _check_samples("deltas", deltas, density)
    return -torch.expm1(-density.clamp_min(0.0) * deltas)


def transmittance_weights(alpha: Tensor) -> Tensor:
    """Weights (N, S) ``alpha_i * T_i`` with ``T_i = prod_{j<i} (1 - alpha_j)`` (exclusive cumprod)."""
    _check_samples("alpha", alpha)
    transmittance = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1.0 - alpha + 1e-10], dim=1), dim=1)
    return alpha * transmittance[:, :-1]


def composite(weights: Tensor, values: Tensor) -> Tensor:
    """Weighted sum (N, C) of per-sample ``values`` (N, S, C) with ``weights`` (N, S) (no background)."""
    _check_samples("weights", weights)
    if values.ndim != 3 or values.shape[:2] != weights.shape:
        raise RenderError(
            f"values must have shape (N, S, C) with (N, S) = {tuple(weights.shape)}, got {tuple(values.shape)}"
        )
    return torch.einsum("ns,nsc->nc", weights, values.to(weights.dtype))


def expected_depth(weights: Tensor, t_mid: Tensor, z_per_distance: Tensor, *, normalize: bool = True) -> Tensor:
    """Expected depth Z (N,) in metres along the optical axis: ``sum_i w_i t_i * z_per_distance``.

    With ``normalize`` (default) the sum is divided by the opacity ``sum_i w_i``: the depth of the
    visible surface regardless of how opaque the ray is; rays with opacity below 1e-6 get depth 0.
    Without it, a transparent ray's depth shrinks towards 0 (report the opacity alongside).
    """
    _check_samples("weights", weights)
    _check_samples("t_mid", t_mid, weights)
    if z_per_distance.shape != weights.shape[:1]:
        raise RenderError(
            f"z_per_distance must have shape (N,) = ({weights.shape[0]},), got {tuple(z_per_distance.shape)}"
        )
    distance = (weights * t_mid).sum(dim=1)
    if normalize:
        opacity = weights.sum(dim=1)
        distance = torch.where(opacity > 1e-6, distance / opacity.clamp_min(1e-6), torch.zeros_like(distance))
    return distance * z_per_distance.to(distance.dtype)
