"""Scene bounds for the field, from the keyframes' prior depths and poses, and the ray range they imply.

The box is that of the world points of every keyframe's prior (tissue pixels with depth, up to
``max_points`` per keyframe), trimmed to the 0.5-99.5 percentiles per axis against stray prior
pixels, then grown on every side by ``padding`` times its largest side (so a flat patch of tissue
still gets room in depth). Without prior depth (a monocular recording) the box is that of the keyframes'
view frusta between two depths (:func:`frustum_bounds`). Near and far are the
smallest and largest distances from any keyframe camera centre to the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.depth_maps import backproject
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe

Float = NDArray[np.float64]


@dataclass(frozen=True)
class SceneBounds:
    """Axis-aligned world box the field covers, and the ray range (distances along rays) that reaches it."""

    minimum: Float
    """(3,) lower corner."""
    maximum: Float
    """(3,) upper corner."""

    def __post_init__(self) -> None:
        low, high = np.asarray(self.minimum, np.float64), np.asarray(self.maximum, np.float64)
        if low.shape != (3,) or high.shape != (3,) or not np.all(np.isfinite(low) & np.isfinite(high) & (high > low)):
            raise TrainingError(f"scene bounds need finite corners with max > min, got {low} and {high}")
        object.__setattr__(self, "minimum", low)
        object.__setattr__(self, "maximum", high)

    @property
    def corners(self) -> Float:
        """(8, 3) corners of the box."""
        pick = np.array([[(i >> k) & 1 for k in range(3)] for i in range(8)], dtype=bool)
        return np.where(pick, self.maximum, self.minimum)

    def ray_range(self, camera_centres: Float) -> tuple[float, float]:
        """(near, far): distances from the nearest point of the box and to its farthest corner over all centres."""
        centres = np.asarray(camera_centres, np.float64).reshape(-1, 3)
        outside = np.maximum(self.minimum - centres, 0) + np.maximum(centres - self.maximum, 0)
        near = float(np.linalg.norm(outside, axis=1).min())
        far = float(np.linalg.norm(self.corners[None] - centres[:, None], axis=2).max())
        return max(near, 1e-3 * far), far


def bounds_from_keyframes(
    keyframes: Sequence[TrainingKeyframe], *, padding: float, max_points: int = 4096, seed: int = 0
) -> SceneBounds:
    """The padded box of the keyframes' prior points (see the module docstring)."""
    rng = np.random.default_rng(seed)
    chunks = []
    for keyframe in keyframes:
        mask = (keyframe.depth > 0) & keyframe.valid
        points = backproject(keyframe.depth, keyframe.K)[mask].astype(np.float64)
        if len(points) > max_points:
            points = points[rng.choice(len(points), max_points, replace=False)]
        T = keyframe.T_world_camera
        chunks.append(points @ T[:3, :3].T + T[:3, 3])
    points = np.concatenate(chunks) if chunks else np.zeros((0, 3))
    if len(points) < 10:
        raise TrainingError(
            "the keyframes carry (almost) no prior depth to derive the scene bounds from: pass bounds explicitly"
        )
    low, high = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    margin = padding * float((high - low).max())
    return SceneBounds(low - margin, high + margin)


def frustum_bounds(keyframes: Sequence[TrainingKeyframe], near_m: float, far_m: float) -> SceneBounds:
    """The box of every keyframe's view frustum between depths (Z) ``near_m`` and ``far_m``."""
    if not keyframes or not 0 < near_m < far_m:
        raise TrainingError(
            f"frustum bounds need keyframes and 0 < near < far, got {len(keyframes)} keyframes, {near_m}, {far_m}"
        )
    points = []
    for keyframe in keyframes:
        height, width = keyframe.rgb.shape[:2]
        rays = np.array([[u, v, 1.0] for u in (0, width) for v in (0, height)]) @ np.linalg.inv(keyframe.K).T
        corners = np.concatenate([rays * near_m, rays * far_m])
        T = keyframe.T_world_camera
        points.append(corners @ T[:3, :3].T + T[:3, 3])
    stacked = np.concatenate(points)
    return SceneBounds(stacked.min(axis=0), stacked.max(axis=0))
