"""NeuS unbiased volume rendering of a signed-distance field, and the eikonal regulariser.

Wang et al., NeuS (NeurIPS 2021), discrete form (their eq. 13 and the official implementation):
each sample i is the centre of a section of length ``delta_i``; the SDF at the section ends is
estimated from the centre value and the slope ``cos_i = dot(direction, gradient)``, taken as
``min(cos_i, 0)`` once annealing is over (a ray only "enters" a surface where the SDF decreases):

    sdf_prev = sdf_i - cos_i * delta_i / 2,    sdf_next = sdf_i + cos_i * delta_i / 2
    alpha_i  = clamp((Phi(sdf_prev) - Phi(sdf_next)) / Phi(sdf_prev), 0, 1),  Phi(x) = sigmoid(inv_s * x)

(the official code adds 1e-5 to numerator and denominator). For a plane the weights peak at the
zero crossing (unbiased) for any sharpness, unlike a density ``phi_s(sdf)`` fed to NeRF's alpha.
"""

from __future__ import annotations

import torch
from torch import Tensor

from stereo_nerf_core.render.errors import RenderError


def neus_alpha(
    sdf: Tensor, cos: Tensor, deltas: Tensor, inv_s: Tensor | float, *, cos_anneal_ratio: float = 1.0
) -> Tensor:
    """Alpha (N, S) from the SDF (N, S) at section centres, ``cos`` (N, S) and section lengths (N, S).

    ``inv_s`` is the scalar sharpness (1/m). ``cos_anneal_ratio`` in [0, 1] blends NeuS's early
    ``-relu(-cos / 2 + 1/2)`` (1 - ratio) with ``-relu(-cos)`` (ratio); 1 (default) is the final form.
    """
    for name, value in (("sdf", sdf), ("cos", cos), ("deltas", deltas)):
        if value.ndim != 2 or value.shape != sdf.shape:
            raise RenderError(f"{name} must have shape (N, S) like sdf {tuple(sdf.shape)}, got {tuple(value.shape)}")
    if not 0.0 <= cos_anneal_ratio <= 1.0:
        raise RenderError(f"cos_anneal_ratio must be in [0, 1], got {cos_anneal_ratio}")
    slope = -(torch.relu(-cos * 0.5 + 0.5) * (1.0 - cos_anneal_ratio) + torch.relu(-cos) * cos_anneal_ratio)
    half = slope * deltas * 0.5
    prev_cdf = torch.sigmoid((sdf - half) * inv_s)
    next_cdf = torch.sigmoid((sdf + half) * inv_s)
    return ((prev_cdf - next_cdf + 1e-5) / (prev_cdf + 1e-5)).clamp(0.0, 1.0)


def sdf_secant_cos(sdf: Tensor, t_mid: Tensor) -> Tensor:
    """Gradient-free slope estimate (N, S) of the SDF along the ray from neighbouring samples.

    Finite difference between consecutive samples, assigned to both of them as the smaller (more
    negative) of its two neighbouring slopes (NeuS up-sampling), for the coarse, no-grad pass.
    """
    if sdf.ndim != 2 or t_mid.shape != sdf.shape:
        raise RenderError(f"sdf and t_mid must both have shape (N, S), got {tuple(sdf.shape)} and {tuple(t_mid.shape)}")
    if sdf.shape[1] < 2:
        return torch.zeros_like(sdf)
    slope = (sdf[:, 1:] - sdf[:, :-1]) / (t_mid[:, 1:] - t_mid[:, :-1]).clamp_min(1e-9)
    left = torch.cat([slope[:, :1], slope], dim=1)
    right = torch.cat([slope, slope[:, -1:]], dim=1)
    return torch.minimum(left, right)


def eikonal_loss(gradient: Tensor) -> Tensor:
    """Scalar ``mean((|gradient| - 1)^2)`` over SDF gradients (M, 3); 0 when M = 0."""
    if gradient.ndim != 2 or gradient.shape[1] != 3:
        raise RenderError(f"gradient must have shape (M, 3), got {tuple(gradient.shape)}")
    if gradient.shape[0] == 0:
        return gradient.sum() * 0.0
    return ((torch.linalg.vector_norm(gradient.float(), dim=1) - 1.0) ** 2).mean()
