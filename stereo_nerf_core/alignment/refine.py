"""Gradient refinement of an object pose from soft silhouettes in one or more views (Adam, PyTorch).

Parameters: an axis-angle correction ``w`` applied to the start rotation about the object's centre
``c`` in camera axes, and the camera-frame position ``z * (a, b, 1)`` of ``c`` as ``(a, b, log z)``
(scale-free, well conditioned: ``a, b`` move the silhouette, ``log z`` scales it). The reference pose is
``T_ref_object = [R | p - R c]`` with ``R = exp(w) R0``; view ``i`` renders ``T_view_ref @ T_ref_object``.
Loss: sum over views of ``1 - soft IoU`` (plus ``l2_weight`` times the mean squared difference); Adam
with a cosine step-size decay, and the silhouette softness annealed from ``sigma_start_px`` to
``sigma_end_px`` (wide basin first, precise fit last). While the softness is at least
``2 * coarse_sigma_px`` the views are rendered at half resolution (a quarter of the cost).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from stereo_nerf_core.alignment.config import AlignmentConfig
from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.renderer import SilhouetteRenderer
from stereo_nerf_core.alignment.views import ScaledView, scale_view
from stereo_nerf_core.geometry.lie import so3_exp

Float = NDArray[np.float64]


@dataclass
class Refinement:
    """Outcome of one refinement."""

    T_camera_object: Float
    """(4, 4) refined pose of the object in the reference camera."""
    loss: float
    """Final loss (sum over views)."""
    iterations: int
    """Adam iterations run."""
    frames: list[tuple[int, float, list[NDArray[np.float16]]]] = field(default_factory=list)
    """Recorded ``(iteration, loss, soft silhouettes (H, W) per view)``, every ``gif_every`` iterations."""


def soft_iou_loss(soft: Tensor, target: Tensor, *, l2_weight: float = 0.0) -> Tensor:
    """``1 - sum(S M) / sum(S + M - S M)`` (+ ``l2_weight * mean((S - M)^2)``) of (H, W) silhouette and mask."""
    intersection = (soft * target).sum()
    union = (soft + target - soft * target).sum().clamp_min(1e-9)
    loss = 1.0 - intersection / union
    if l2_weight > 0:
        loss = loss + l2_weight * ((soft - target) ** 2).mean()
    return loss


def sigma_at(iteration: int, iterations: int, config: AlignmentConfig) -> float:
    """Softness in pixels at ``iteration``: geometric from start to end over ``anneal_fraction``, then constant."""
    span = max(1.0, config.anneal_fraction * iterations)
    progress = min(1.0, iteration / span) if config.anneal_fraction > 0 else 1.0
    return config.sigma_start_px * (config.sigma_end_px / config.sigma_start_px) ** progress


def _pose(w: Tensor, position: Tensor, R0: Tensor, centre: Tensor) -> Tensor:
    R = so3_exp(w) @ R0
    z = torch.exp(position[2])
    p = torch.stack([position[0] * z, position[1] * z, z])
    top = torch.cat([R, (p - R @ centre)[:, None]], dim=1)
    return torch.cat([top, torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=R.dtype, device=R.device)], dim=0)


def _frames(silhouettes: Sequence[Tensor], views: Sequence[ScaledView]) -> list[NDArray[np.float16]]:
    """Soft silhouettes as float16 images at the views' (working) resolution."""
    frames = []
    for silhouette, view in zip(silhouettes, views, strict=True):
        image = silhouette.detach().cpu().numpy().astype(np.float32)
        if image.shape != (view.height, view.width):
            image = cv2.resize(image, (view.width, view.height), interpolation=cv2.INTER_LINEAR)
        frames.append(image.astype(np.float16))
    return frames


def refine_pose(
    renderer: SilhouetteRenderer,
    views: Sequence[ScaledView],
    T_start: Float,
    *,
    config: AlignmentConfig,
) -> Refinement:
    """Refine ``T_start`` (4, 4) ``T_camera_object`` of the reference view against ``views``' masks."""
    device, dtype = renderer.device, renderer.dtype
    centre_np = renderer.mesh.centre
    position_np = T_start[:3, :3] @ centre_np + T_start[:3, 3]
    if position_np[2] <= 0:
        raise AlignmentError(
            f"the start pose puts the mesh centre behind the reference camera (z = {position_np[2]:.4g} m)"
        )
    w = torch.zeros(3, dtype=dtype, device=device, requires_grad=True)
    initial = [position_np[0] / position_np[2], position_np[1] / position_np[2], math.log(position_np[2])]
    position = torch.tensor(initial, dtype=dtype, device=device, requires_grad=True)
    R0 = torch.as_tensor(T_start[:3, :3], dtype=dtype, device=device)
    centre = torch.as_tensor(centre_np, dtype=dtype, device=device)
    levels = [list(views), [scale_view(view, math.ceil(max(view.width, view.height) / 2)) for view in views]]
    targets = [[torch.as_tensor(view.target, dtype=dtype, device=device) for view in level] for level in levels]
    T_view_ref = [torch.as_tensor(view.T_view_ref, dtype=dtype, device=device) for view in views]
    base_lrs = [config.lr_rotation, config.lr_translation]
    optimizer = torch.optim.Adam([{"params": [w], "lr": base_lrs[0]}, {"params": [position], "lr": base_lrs[1]}])
    result = Refinement(np.asarray(T_start, dtype=np.float64), math.inf, 0)
    for iteration in range(config.iterations + 1):
        sigma = sigma_at(iteration, config.iterations, config)
        level = 1 if sigma >= 2.0 * config.coarse_sigma_px else 0
        final = iteration == config.iterations
        with torch.set_grad_enabled(not final):
            T_ref_object = _pose(w, position, R0, centre)
            silhouettes = [
                renderer.soft(
                    T @ T_ref_object,
                    view.K,
                    view.width,
                    view.height,
                    sigma_px=sigma / 2**level,
                    margin=config.margin,
                    rasterizer=config.rasterizer,
                )
                for T, view in zip(T_view_ref, levels[level], strict=True)
            ]
            losses = [
                soft_iou_loss(s, t, l2_weight=config.l2_weight)
                for s, t in zip(silhouettes, targets[level], strict=True)
            ]
            loss = torch.stack(losses).sum()
        if config.gif_every and (iteration % config.gif_every == 0 or final):
            result.frames.append((iteration, loss.item(), _frames(silhouettes, views)))
        if final:
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        cosine = 0.5 * (1.0 + math.cos(math.pi * (iteration + 1) / config.iterations))
        decay = config.lr_final_ratio + (1.0 - config.lr_final_ratio) * cosine
        for group, lr in zip(optimizer.param_groups, base_lrs, strict=True):
            group["lr"] = lr * decay
    with torch.no_grad():
        exact = (torch.as_tensor(np.asarray(T_start)[:3, :3]), torch.as_tensor(centre_np))
        result.T_camera_object = _pose(w.detach().cpu().double(), position.detach().cpu().double(), *exact).numpy()
    result.loss = loss.item()
    result.iterations = config.iterations
    return result
