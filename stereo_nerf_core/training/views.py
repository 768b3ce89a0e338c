"""A model's view from any camera: rendered depth, colour and opacity as arrays (the trainer's queries)."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.geometry.depth_maps import backproject
from stereo_nerf_core.models.base import Model
from stereo_nerf_core.render.occupancy import OccupancyGrid
from stereo_nerf_core.render.renderer import SamplingConfig, render_image
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.results import RenderedView


def flat_map(values: ArrayLike, height: int, width: int, device: torch.device) -> torch.Tensor:
    """(H * W,) float32 of an (H, W) map, NaN as 0; TrainingError naming the expected shape otherwise."""
    array = np.asarray(values, dtype=np.float32)
    if array.shape != (height, width):
        raise TrainingError(f"a guiding prior must be (H, W) = {(height, width)}, got {array.shape}")
    return torch.from_numpy(np.nan_to_num(array, nan=0.0).reshape(-1).copy()).to(device)


@torch.no_grad()
def render_view(
    model: Model,
    K: ArrayLike,
    T_world_camera: ArrayLike,
    width: int,
    height: int,
    *,
    sampling: SamplingConfig,
    device: torch.device,
    chunk: int,
    time_s: float | None = None,
    depth_prior: ArrayLike | None = None,
    confidence: ArrayLike | None = None,
    background: torch.Tensor | None = None,
    occupancy: OccupancyGrid | None = None,
) -> RenderedView:
    """Render ``model`` (in eval mode) from ``K`` (3, 3) at ``T_world_camera`` (4, 4); a prior (H, W) Z in metres,
    weighted by ``confidence`` (H, W), guides the sampling (``sampling`` is then the guided one)."""
    model.eval()
    K_t = torch.as_tensor(np.asarray(K, np.float64), dtype=torch.float32, device=device)
    T_t = torch.as_tensor(np.asarray(T_world_camera, np.float64), dtype=torch.float32, device=device)
    prior = None if depth_prior is None else flat_map(depth_prior, height, width, device)
    weight = None if prior is None else torch.ones_like(prior)
    if prior is not None and confidence is not None:
        weight = flat_map(confidence, height, width, device)
    out = render_image(
        model.callbacks(),
        K_t,
        T_t,
        width,
        height,
        sampling,
        chunk=chunk,
        time_s=time_s,
        depth_prior=prior,
        confidence=weight,
        background=background,
        occupancy=occupancy,
    )
    return RenderedView(
        depth=out.depth.float().reshape(height, width).cpu().numpy(),
        rgb=out.rgb.float().reshape(height, width, 3).clamp(0, 1).cpu().numpy(),
        opacity=out.opacity.float().reshape(height, width).cpu().numpy(),
    )


def world_points(
    view: RenderedView, K: NDArray[np.float64], T_world_camera: NDArray[np.float64], *, min_opacity: float
) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
    """(world points (N, 3), their colours (N, 3) in [0, 1]) of a view's pixels with a depth and an opacity of
    at least ``min_opacity``; ``K`` (3, 3) and ``T_world_camera`` (4, 4) are the view's camera."""
    keep = (view.opacity >= min_opacity) & (view.depth > 0)
    local = backproject(view.depth, K)[keep].astype(np.float64)
    return local @ T_world_camera[:3, :3].T + T_world_camera[:3, 3], view.rgb[keep]
