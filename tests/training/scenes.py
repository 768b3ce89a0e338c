"""A small analytic scene for trainer tests: a textured plane Z = 8 cm seen by a few cameras."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.geometry.transforms import make_se3, rotation_about_axis
from stereo_nerf_core.training.keyframes import TrainingKeyframe

PLANE_Z_M = 0.08
WIDTH, HEIGHT = 48, 40
K = np.array([[40.0, 0.0, 23.5], [0.0, 40.0, 19.5], [0.0, 0.0, 1.0]])


def texture(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """RGB (..., 3) in [0.1, 0.9] of the plane at world (x, y), metres: smooth stripes of a few millimetres."""
    red = 0.5 + 0.2 * np.sin(2 * np.pi * x / 0.011) + 0.2 * np.cos(2 * np.pi * y / 0.013)
    green = 0.5 + 0.3 * np.sin(2 * np.pi * (x + y) / 0.017)
    blue = 0.5 + 0.3 * np.cos(2 * np.pi * (x - 0.5 * y) / 0.009)
    return np.stack([red, green, blue], axis=-1)


def pose(index: int) -> NDArray[np.float64]:
    """Camera ``index`` of a small arc: a few millimetres apart, tilted by a degree or two."""
    angle = np.deg2rad(1.5 * np.sin(index))
    axis = [np.cos(index), np.sin(index), 0.0]
    return make_se3(rotation_about_axis(axis, angle), [0.003 * np.cos(index), 0.002 * np.sin(index), 0.0])


def render_plane(T_world_camera: NDArray[np.float64]) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """(rgb (H, W, 3) uint8, depth Z (H, W) metres) of the plane seen from a camera."""
    u, v = np.meshgrid(np.arange(WIDTH, dtype=np.float64), np.arange(HEIGHT, dtype=np.float64))
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1)
    R, c = T_world_camera[:3, :3], T_world_camera[:3, 3]
    world_dirs = rays @ R.T
    t = (PLANE_Z_M - c[2]) / world_dirs[..., 2]
    points = c + t[..., None] * world_dirs
    rgb = np.clip(np.rint(texture(points[..., 0], points[..., 1]) * 255), 0, 255).astype(np.uint8)
    depth = (t * rays[..., 2]).astype(np.float32)  # Z in the camera frame: t along the (x, y, 1) ray
    return rgb, depth


def plane_keyframe(index: int, *, T_given: NDArray[np.float64] | None = None) -> TrainingKeyframe:
    """Keyframe ``index`` rendered at its true pose, carrying ``T_given`` (default: the true pose)."""
    truth = pose(index)
    rgb, depth = render_plane(truth)
    return TrainingKeyframe(
        index=index,
        stamp_ns=index * 100_000_000,
        rgb=rgb,
        depth=depth,
        confidence=np.ones_like(depth),
        valid=np.ones(depth.shape, bool),
        K=K,
        T_world_camera=truth if T_given is None else T_given,
    )


def small_config(**changes: object) -> TrainerConfig:
    """A trainer configuration sized for unit tests on the CPU."""
    values: dict[str, object] = dict(
        rays_per_batch=256,
        grid_levels=6,
        grid_log2_table_size=14,
        grid_max_resolution=128,
        prior_samples=8,
        uniform_samples=4,
        importance_samples=16,
        depth_refine_rounds=0,
        render_chunk=4096,
    )
    values.update(changes)
    return TrainerConfig(**values)  # type: ignore[arg-type]
