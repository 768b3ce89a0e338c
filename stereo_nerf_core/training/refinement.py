"""Depth refinement: invalid prior pixels of tissue take the model's rendered depth where it is confident.

A prior pixel is *invalid* when it lies in the tissue mask and has no depth or a confidence below
``depth_refine_low_confidence``. It is replaced by the rendered depth Z when the rendered opacity
is at least ``depth_refine_min_opacity``, and gets confidence ``depth_refine_confidence``. Every
other pixel keeps its prior exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.render.callbacks import RadianceCallbacks
from stereo_nerf_core.render.rays import camera_rays
from stereo_nerf_core.render.renderer import SamplingConfig, render_rays
from stereo_nerf_core.training.keyframes import TrainingKeyframe


def invalid_prior(keyframe: TrainingKeyframe, config: TrainerConfig) -> np.ndarray:
    """(H, W) bool: tissue pixels whose prior may be refined."""
    weak = (keyframe.depth <= 0) | (keyframe.confidence < config.depth_refine_low_confidence)
    return keyframe.valid & weak


@torch.no_grad()
def refine_keyframe_depth(
    network: RadianceCallbacks,
    keyframe: TrainingKeyframe,
    T_world_camera: torch.Tensor,
    sampling: SamplingConfig,
    config: TrainerConfig,
    *,
    chunk: int,
    time_s: float | None = None,
) -> tuple[TrainingKeyframe, int]:
    """(the keyframe with its refined prior, number of pixels replaced); ``time_s``: the keyframe's time."""
    rows, columns = np.nonzero(invalid_prior(keyframe, config))
    if rows.size == 0:
        return keyframe, 0
    device = T_world_camera.device
    pixels = torch.from_numpy(np.stack([columns, rows], axis=1).astype(np.float32)).to(device)
    K = torch.as_tensor(keyframe.K, dtype=torch.float32, device=device)
    rays = camera_rays(K, T_world_camera.float(), pixels)
    if time_s is not None:
        rays.times = torch.full((len(rays),), float(time_s), device=device)
    depths, opacities = [], []
    for start in range(0, rows.size, chunk):
        out = render_rays(network, rays.index(slice(start, start + chunk)), sampling, stratified=False)
        depths.append(out.depth.float())
        opacities.append(out.opacity.float())
    depth = torch.cat(depths).cpu().numpy()
    opacity = torch.cat(opacities).cpu().numpy()
    accept = (opacity >= config.depth_refine_min_opacity) & (depth > 0) & np.isfinite(depth)
    if not accept.any():
        return keyframe, 0
    new_depth, new_confidence = keyframe.depth.copy(), keyframe.confidence.copy()
    new_depth[rows[accept], columns[accept]] = depth[accept]
    new_confidence[rows[accept], columns[accept]] = config.depth_refine_confidence
    return keyframe.with_prior(new_depth, new_confidence), int(accept.sum())


@torch.no_grad()
def refine_keyframes(
    network: RadianceCallbacks,
    keyframes: Sequence[TrainingKeyframe],
    poses: torch.Tensor,
    sampling: SamplingConfig,
    config: TrainerConfig,
    *,
    time_of: Callable[[int], float],
) -> Iterator[tuple[TrainingKeyframe, int]]:
    """One refinement round: (each keyframe with its refined prior, pixels replaced); ``poses`` (S, 4, 4) are the
    keyframes' (refined) poses, ``time_of(stamp_ns)`` their time for time-conditioned models."""
    for keyframe, pose in zip(keyframes, poses, strict=True):
        yield refine_keyframe_depth(
            network, keyframe, pose, sampling, config, chunk=config.render_chunk, time_s=time_of(keyframe.stamp_ns)
        )
