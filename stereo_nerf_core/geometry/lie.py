"""SO(3) and SE(3) in torch (differentiable, batched, exact at zero), and pinhole (back-)projection.

The numpy counterparts (``make_se3``, ``rotation_about_axis``, ``rotation_angle_deg``, ``backproject`` of a
depth map) are in :mod:`stereo_nerf_core.geometry.transforms` and :mod:`stereo_nerf_core.geometry.depth_maps`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from stereo_nerf_core.geometry.errors import GeometryError


def hat(v: Tensor) -> Tensor:
    """Skew-symmetric (cross-product) matrices (..., 3, 3) of vectors (..., 3)."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*v.shape[:-1], 3, 3)


def so3_exp(w: Tensor) -> Tensor:
    """Rotations (..., 3, 3) of axis-angle vectors ``w`` (..., 3) in radians (Rodrigues, smooth at 0)."""
    theta2 = (w * w).sum(-1)[..., None, None]
    small = theta2 < 1e-8
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta2), theta2))
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / (theta * theta))
    k = hat(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand_as(k)
    return eye + a * k + b * (k @ k)


def se3_exp(xi: Tensor) -> Tensor:
    """SE(3) exponential (..., 4, 4) of twists ``xi`` (..., 6) = (rho, phi): translation part first.

    ``phi`` (rad) is the rotation vector, ``R = exp(hat(phi))`` (Rodrigues) and the translation is
    ``V rho`` with ``V = I + (1 - cos t) / t^2 hat(phi) + (t - sin t) / t^3 hat(phi)^2``, ``t = |phi|``;
    this equals ``torch.linalg.matrix_exp`` of the 4x4 twist ``[[hat(phi), rho], [0, 0]]``. Small
    angles use Taylor series, so values and gradients are exact and finite at ``xi = 0``
    (``d se3_exp / d xi_i`` at 0 is the i-th generator).
    """
    if xi.ndim < 1 or xi.shape[-1] != 6:
        raise GeometryError(f"xi must have shape (..., 6) as (rho, phi), got {tuple(xi.shape)}")
    rho, phi = xi[..., :3], xi[..., 3:]
    theta2 = (phi * phi).sum(-1)
    small = theta2 < 1e-6
    safe2 = torch.where(small, torch.ones_like(theta2), theta2)
    theta = safe2.sqrt()
    a = torch.where(small, 1.0 - theta2 / 6.0 + theta2 * theta2 / 120.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0 + theta2 * theta2 / 720.0, (1.0 - torch.cos(theta)) / safe2)
    c = torch.where(
        small, 1.0 / 6.0 - theta2 / 120.0 + theta2 * theta2 / 5040.0, (theta - torch.sin(theta)) / (safe2 * theta)
    )
    W = hat(phi)
    W2 = W @ W
    eye = torch.eye(3, dtype=xi.dtype, device=xi.device).expand_as(W)
    R = eye + a[..., None, None] * W + b[..., None, None] * W2
    V = eye + b[..., None, None] * W + c[..., None, None] * W2
    t = (V @ rho[..., None])[..., 0]
    top = torch.cat([R, t[..., None]], dim=-1)
    bottom = torch.zeros(*xi.shape[:-1], 1, 4, dtype=xi.dtype, device=xi.device)
    bottom[..., 0, 3] = 1.0
    return torch.cat([top, bottom], dim=-2)


def backproject_pixels(pixels: Tensor, depth: Tensor, K: Tensor) -> Tensor:
    """Camera points (..., M, 3) of pixel centres ``pixels`` (..., M, 2) at depth Z ``depth`` (..., M).

    ``K`` is (..., 3, 3) (zero skew).
    """
    fx, fy = K[..., 0, 0, None], K[..., 1, 1, None]
    cx, cy = K[..., 0, 2, None], K[..., 1, 2, None]
    x = (pixels[..., 0] - cx) / fx * depth
    y = (pixels[..., 1] - cy) / fy * depth
    return torch.stack([x, y, depth], dim=-1)


def project_points(points: Tensor, K: Tensor) -> tuple[Tensor, Tensor]:
    """(pixel centres (..., M, 2), depth Z (..., M)) of camera points (..., M, 3); K (..., 3, 3) (zero skew)."""
    z = points[..., 2]
    safe = torch.where(z.abs() > 1e-9, z, torch.full_like(z, 1e-9))
    u = K[..., 0, 0, None] * points[..., 0] / safe + K[..., 0, 2, None]
    v = K[..., 1, 1, None] * points[..., 1] / safe + K[..., 1, 2, None]
    return torch.stack([u, v], dim=-1), z
