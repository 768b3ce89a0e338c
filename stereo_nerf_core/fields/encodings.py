"""Small field components: spherical-harmonics direction encoding, truncated exponential, MLPs.

Spherical harmonics follow tiny-cuda-nn's convention: ``degree`` D encodes bands l = 0 .. D - 1,
i.e. ``D**2`` real, orthonormal basis functions (degree 4 -> 16 outputs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from stereo_nerf_core.fields.errors import FieldError

MAX_SH_DEGREE = 4


def spherical_harmonics(directions: Tensor, degree: int = 4) -> Tensor:
    """Real orthonormal SH basis (N, degree**2) of unit ``directions`` (N, 3); degree in 1..4.

    Evaluated in float32 (also under autocast). Each basis function integrates to 1 in square over
    the unit sphere.
    """
    if not 1 <= degree <= MAX_SH_DEGREE:
        raise FieldError(f"spherical harmonics degree must be in 1..{MAX_SH_DEGREE}, got {degree}")
    if directions.ndim != 2 or directions.shape[1] != 3:
        raise FieldError(f"directions must have shape (N, 3), got {tuple(directions.shape)}")
    d = directions.float()
    x, y, z = d.unbind(dim=1)
    components = [torch.full_like(x, 0.28209479177387814)]
    if degree > 1:
        components += [0.4886025119029199 * y, 0.4886025119029199 * z, 0.4886025119029199 * x]
    if degree > 2:
        xx, yy, zz = x * x, y * y, z * z
        components += [
            1.0925484305920792 * x * y,
            1.0925484305920792 * y * z,
            0.9461746957575601 * zz - 0.31539156525251999,
            1.0925484305920792 * x * z,
            0.5462742152960396 * (xx - yy),
        ]
    if degree > 3:
        components += [
            0.5900435899266435 * y * (3 * xx - yy),
            2.890611442640554 * x * y * z,
            0.4570457994644658 * y * (5 * zz - 1),
            0.3731763325901154 * z * (5 * zz - 3),
            0.4570457994644658 * x * (5 * zz - 1),
            1.445305721320277 * z * (xx - yy),
            0.5900435899266435 * x * (xx - 3 * yy),
        ]
    return torch.stack(components, dim=1)


class _TruncExp(torch.autograd.Function):
    """exp(x) whose backward clamps x at 15 (Instant-NGP): large densities cannot blow up the gradient."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x = x.float()
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return grad_output * torch.exp(x.clamp(max=15.0))


def trunc_exp(x: Tensor) -> Tensor:
    """``exp(x)`` in float32 with the gradient of ``exp(min(x, 15))``."""
    result: Tensor = _TruncExp.apply(x)
    return result


def mlp(
    in_dim: int, hidden: int, layers: int, out_dim: int, activation: Callable[[], nn.Module] = nn.ReLU
) -> nn.Sequential:
    """``layers`` hidden layers of width ``hidden`` with ``activation``, then a linear output layer."""
    if min(in_dim, hidden, out_dim) < 1 or layers < 0:
        raise FieldError(f"MLP sizes must be positive, got in {in_dim}, hidden {hidden}x{layers}, out {out_dim}")
    modules: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), activation()]
        width = hidden
    modules.append(nn.Linear(width, out_dim))
    return nn.Sequential(*modules)
