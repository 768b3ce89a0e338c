"""What a trainer builds once it has keyframes (:func:`build_scene`): the scene box, the model, its sampling and
the occupancy grid.

Defaults derived from the scene (each can be overridden by passing the config explicitly):

* Sampling: the trainer's sample counts; ``near_m`` / ``far_m`` span the depths Z of the scene
  box's corners seen from every keyframe camera (Z is linear, so a convex box's extremes are at its
  corners); the prior's ``sigma_min_m`` / ``sigma_max_m`` are 2 % / 20 % of the median prior depth,
  so one setting serves endoscopes (tissue at 5-15 cm) and unit-sphere scenes alike.
* SDF field (endoscopy): the initial shape is a plane through the median prior point facing the
  mean camera direction; without priors, a plane through the box's centre when the cameras all look
  one way (a monocular endoscope), else a sphere of half the box's smallest half-extent in its centre
  (NeuS, cameras around an object). The finite-difference step is 1/4096 of the box's largest side, the initial NeuS
  sharpness 20 over that side.
* Hash grid: the trainer's ``grid_*`` sizes (levels from 16 cells per axis to ``grid_max_resolution``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from numpy.typing import NDArray

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.fields.hash_grid import HashGridConfig
from stereo_nerf_core.fields.nerf_field import NerfFieldConfig
from stereo_nerf_core.fields.sdf_field import SdfFieldConfig
from stereo_nerf_core.fields.space_time import SpaceTimeConfig
from stereo_nerf_core.geometry.depth_maps import backproject
from stereo_nerf_core.models.base import Model
from stereo_nerf_core.models.deformable import DeformableFieldConfig
from stereo_nerf_core.models.registry import build_model, model_class
from stereo_nerf_core.render.occupancy import OccupancyGrid
from stereo_nerf_core.render.renderer import SamplingConfig
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.scene_bounds import SceneBounds, bounds_from_keyframes, frustum_bounds

FieldConfig = NerfFieldConfig | SdfFieldConfig | DeformableFieldConfig
ONE_DIRECTION = 0.97
"""Cameras whose mean unit viewing direction is at least this long look one way (an endoscope, not a turntable)."""
DEFAULT_TIME_SPAN_S = 60.0
"""Seconds a deformable model covers when ``trainer.time_span_s`` is 0 and its keyframes span less."""


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
    """The field configuration of the model ``trainer.mode`` with the trainer's grid, fitted to the scene.

    Time-conditioned models wrap it with their space-time sizes and span: ``trainer.time_span_s``, or when
    that is 0 the span of ``keyframes`` but at least :data:`DEFAULT_TIME_SPAN_S` (a live trainer builds its
    model from its first few keyframes; the replay sets the bag's duration).
    """
    canonical = _canonical_config(trainer, bounds, keyframes)
    if not model_class(trainer.mode).time_conditioned:
        return canonical
    stamps = [keyframe.stamp_ns for keyframe in keyframes]
    span = trainer.time_span_s or max((max(stamps) - min(stamps)) * 1e-9, DEFAULT_TIME_SPAN_S)
    return DeformableFieldConfig(canonical, SpaceTimeConfig(time_knots=trainer.time_knots), time_span_s=span)


def _canonical_config(
    trainer: TrainerConfig, bounds: SceneBounds, keyframes: Sequence[TrainingKeyframe]
) -> NerfFieldConfig | SdfFieldConfig:
    grid = HashGridConfig(
        levels=trainer.grid_levels,
        log2_table_size=trainer.grid_log2_table_size,
        max_resolution=trainer.grid_max_resolution,
        base_resolution=min(16, trainer.grid_max_resolution),
    )
    if model_class(trainer.mode).geometry == "density":
        return NerfFieldConfig(grid=grid)
    size = float((bounds.maximum - bounds.minimum).max())
    prior = _median_prior_point(keyframes)
    forward = np.mean([keyframe.T_world_camera[:3, 2] for keyframe in keyframes], axis=0)
    if prior is None and np.linalg.norm(forward) >= ONE_DIRECTION:
        prior = (0.5 * (bounds.minimum + bounds.maximum), 0.0)  # an endoscope without a prior: the box's mid-plane
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
    facing = -forward
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


@dataclass(frozen=True)
class Scene:
    """What a trainer builds from its first keyframes (on the CPU; the trainer moves it to its device)."""

    bounds: SceneBounds
    field_config: FieldConfig
    model: Model
    """Initialised for ``sampling`` (an SDF's plane or sphere), before any training."""
    sampling: SamplingConfig
    """Training rays and prior-guided renders."""
    render_sampling: SamplingConfig
    """Renders without a prior: ``coarse_samples`` uniform, then importance samples (or marching)."""
    occupancy: OccupancyGrid | None
    """Grid of prior-less rays (``occupancy_resolution`` > 0), measured while training."""
    translation_scale: float
    """Unit of the pose corrections' translation (:func:`pose_translation_scale`)."""


MIN_PRIOR_POINTS = 100
"""Prior points the first keyframes need for the box of their prior; with fewer it is their view frusta."""


def build_scene(
    keyframes: Sequence[TrainingKeyframe],
    config: TrainerConfig,
    *,
    bounds: SceneBounds | None = None,
    sampling: SamplingConfig | None = None,
    field_config: FieldConfig | None = None,
) -> Scene:
    """The model ``config.mode`` fitted to ``keyframes``; ``bounds``, ``sampling`` and ``field_config`` replace what
    would be derived from them."""
    if bounds is None:
        with_depth = sum(int(np.count_nonzero((keyframe.depth > 0) & keyframe.valid)) for keyframe in keyframes)
        if with_depth >= MIN_PRIOR_POINTS:
            bounds = bounds_from_keyframes(keyframes, padding=config.bounds_padding, seed=config.seed)
        else:  # a monocular recording without a depth topic
            bounds = frustum_bounds(keyframes, config.min_depth_m, config.max_depth_m)
    marching = {"march_candidates": config.march_candidates, "march_max_samples": config.march_max_samples}
    training = replace(scene_sampling(bounds, keyframes, config, sampling), **marching)
    unguided = training if sampling is not None else replace(training, uniform_count=config.coarse_samples)
    occupancy = None
    if config.occupancy_resolution:
        low, high = (torch.tensor(v, dtype=torch.float32) for v in (bounds.minimum, bounds.maximum))
        occupancy = OccupancyGrid(
            low, high, resolution=config.occupancy_resolution, threshold=config.occupancy_threshold
        )
    if field_config is None:
        field_config = default_field_config(config, bounds, keyframes)
    model = build_model(
        config.mode,
        field_config,
        bounds_min=bounds.minimum.tolist(),
        bounds_max=bounds.maximum.tolist(),
        seed=config.seed,
    )
    model.initialise(training)
    return Scene(bounds, field_config, model, training, unguided, occupancy, pose_translation_scale(bounds, keyframes))
