"""What a trainer builds once it has keyframes: the field, its sampling configuration and the optimiser.

Defaults derived from the scene (each can be overridden by passing the config explicitly):

* Sampling: the trainer's sample counts; ``near_m`` / ``far_m`` span the depths Z of the scene
  box's corners seen from every keyframe camera (Z is linear, so a convex box's extremes are at its
  corners); the prior's ``sigma_min_m`` / ``sigma_max_m`` are 2 % / 20 % of the median prior depth,
  so one setting serves endoscopes (tissue at 5-15 cm) and unit-sphere scenes alike.
* SDF field (endoscopy): the initial shape is a plane through the median prior point facing the
  mean camera direction; without priors a sphere of half the box's smallest half-extent in its
  centre (NeuS). The finite-difference step is 1/4096 of the box's largest side, the initial NeuS
  sharpness 20 over that side.
* Hash grid: the trainer's ``grid_*`` sizes (levels from 16 cells per axis to ``grid_max_resolution``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from numpy.typing import NDArray

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.fields.base import Field
from stereo_nerf_core.fields.hash_grid import HashGridConfig, HashGridEncoding
from stereo_nerf_core.fields.nerf_field import NerfField, NerfFieldConfig
from stereo_nerf_core.fields.sdf_field import SdfField, SdfFieldConfig
from stereo_nerf_core.geometry.depth_maps import backproject
from stereo_nerf_core.render.renderer import SamplingConfig
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.scene_bounds import SceneBounds

FieldConfig = NerfFieldConfig | SdfFieldConfig


def camera_centres(keyframes: Sequence[TrainingKeyframe]) -> NDArray[np.float64]:
    """(K, 3) world positions of the keyframes' left cameras."""
    return np.array([keyframe.T_world_camera[:3, 3] for keyframe in keyframes])


def depth_range(bounds: SceneBounds, keyframes: Sequence[TrainingKeyframe]) -> tuple[float, float]:
    """(near Z, far Z) covering the box from every keyframe camera (near at least 1e-3 of far)."""
    depths = []
    for keyframe in keyframes:
        T = keyframe.T_world_camera
        depths.append((bounds.corners - T[:3, 3]) @ T[:3, 2])
    z = np.concatenate(depths)
    far = float(z.max())
    if far <= 0:
        raise TrainingError("the scene box lies behind every keyframe camera: check the poses")
    return max(float(z.min()), 1e-3 * far), far


def _median_prior_point(keyframes: Sequence[TrainingKeyframe]) -> tuple[NDArray[np.float64], float] | None:
    points, depths = [], []
    for keyframe in keyframes:
        mask = (keyframe.depth > 0) & keyframe.valid
        if mask.any():
            local = backproject(keyframe.depth, keyframe.K)[mask][::7].astype(np.float64)
            T = keyframe.T_world_camera
            points.append(local @ T[:3, :3].T + T[:3, 3])
            depths.append(keyframe.depth[mask][::7])
    if not points:
        return None
    return np.median(np.concatenate(points), axis=0), float(np.median(np.concatenate(depths)))


def scene_sampling(
    bounds: SceneBounds,
    keyframes: Sequence[TrainingKeyframe],
    trainer: TrainerConfig,
    base: SamplingConfig | None = None,
) -> SamplingConfig:
    """``base`` when given, else the trainer's sample counts with the scene's depth range and prior widths."""
    if base is not None:
        return base
    near, far = depth_range(bounds, keyframes)
    config = SamplingConfig(
        near_m=near,
        far_m=far,
        gaussian_count=trainer.prior_samples,
        uniform_count=trainer.uniform_samples,
        importance_count=trainer.importance_samples,
        chunk_size=trainer.render_chunk,
    )
    prior = _median_prior_point(keyframes)
    if prior is not None:
        config = replace(config, sigma_min_m=0.02 * prior[1], sigma_max_m=0.2 * prior[1])
    return config


def pose_translation_scale(bounds: SceneBounds, keyframes: Sequence[TrainingKeyframe]) -> float:
    """Unit of the pose corrections' translation: the median prior depth, else the mean camera-to-box distance."""
    prior = _median_prior_point(keyframes)
    if prior is not None:
        return prior[1]
    centre = 0.5 * (bounds.minimum + bounds.maximum)
    return float(np.linalg.norm(camera_centres(keyframes) - centre, axis=1).mean())


def default_field_config(
    trainer: TrainerConfig, bounds: SceneBounds, keyframes: Sequence[TrainingKeyframe]
) -> FieldConfig:
    """The field configuration for ``trainer.mode`` with the trainer's grid, fitted to the scene (module docstring)."""
    grid = HashGridConfig(
        levels=trainer.grid_levels,
        log2_table_size=trainer.grid_log2_table_size,
        max_resolution=trainer.grid_max_resolution,
        base_resolution=min(16, trainer.grid_max_resolution),
    )
    if trainer.mode == "nerf":
        return NerfFieldConfig(grid=grid)
    size = float((bounds.maximum - bounds.minimum).max())
    prior = _median_prior_point(keyframes)
    if prior is None:
        centre = 0.5 * (bounds.minimum + bounds.maximum)
        radius = 0.25 * float((bounds.maximum - bounds.minimum).min())
        return SdfFieldConfig(
            grid=grid,
            init="sphere",
            init_sphere_center_m=_triple(centre),
            init_sphere_radius_m=radius,
            fd_step_m=size / 4096,
            init_inv_s=20.0 / size,
        )
    facing = -np.mean([keyframe.T_world_camera[:3, 2] for keyframe in keyframes], axis=0)
    return SdfFieldConfig(
        grid=grid,
        init="plane",
        init_plane_point_m=_triple(prior[0]),
        init_plane_normal=_triple(facing / np.linalg.norm(facing)),
        fd_step_m=size / 4096,
        init_inv_s=20.0 / size,
    )


def _triple(values: NDArray[np.float64]) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))


def build_field(mode: str, config: FieldConfig, bounds: SceneBounds, *, seed: int) -> Field:
    """The field, initialised from ``seed`` without touching torch's global generator state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if mode == "nerf":
            if not isinstance(config, NerfFieldConfig):
                raise TrainingError(f"trainer.mode 'nerf' needs a NerfFieldConfig, got {type(config).__name__}")
            return NerfField(config, bounds_min=bounds.minimum.tolist(), bounds_max=bounds.maximum.tolist())
        if not isinstance(config, SdfFieldConfig):
            raise TrainingError(f"trainer.mode 'sdf' needs an SdfFieldConfig, got {type(config).__name__}")
        return SdfField(config, bounds_min=bounds.minimum.tolist(), bounds_max=bounds.maximum.tolist())


def initialise_density(field: Field, sampling: SamplingConfig) -> bool:
    """Start a NeRF field at density ``1 / (far - near)`` (1/m): about 63 % opacity over the depth range.

    The field's own start (raw output 0: density 1/m) is tuned for unit-sized scenes; in metres
    an endoscopic scene (7 cm of depth range) starts 99 % transparent, and the colour network then
    saturates trying to brighten a black image before any surface forms. This sets the bias of the
    density output (the first output of the geometry MLP's last layer); returns False (and changes
    nothing) when the field has no such layer.
    """
    if not isinstance(field, NerfField):
        return False
    last = field.geometry_mlp[-1] if len(field.geometry_mlp) else None
    if not isinstance(last, torch.nn.Linear):
        return False
    density = 1.0 / (sampling.far_m - sampling.near_m)
    activation = field.config.density_activation
    raw = math.log(density) if activation == "trunc_exp" else math.log(math.expm1(density))
    with torch.no_grad():
        last.bias[0] = raw
    return True


def build_optimizer(field: Field, config: TrainerConfig) -> torch.optim.Adam:
    """Adam with two groups: the hash tables (``lr_hash``) and everything else (``lr_network``)."""
    hash_ids = {
        id(parameter)
        for module in field.modules()
        if isinstance(module, HashGridEncoding)
        for parameter in module.parameters()
    }
    tables = [p for p in field.parameters() if id(p) in hash_ids]
    others = [p for p in field.parameters() if id(p) not in hash_ids]
    groups = [
        {"params": tables, "lr": config.lr_hash, "initial_lr": config.lr_hash, "name": "hash"},
        {"params": others, "lr": config.lr_network, "initial_lr": config.lr_network, "name": "network"},
    ]
    return torch.optim.Adam(groups, betas=(0.9, 0.99), eps=1e-15, foreach=True)
