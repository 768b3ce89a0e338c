"""Vectorised ray casting of the tissue heightfield.

Each ray ``o + t d`` is marched in equal z steps against a bilinear grid of the heightfield (fast
``cv2.remap`` lookups) to find the first sign change of ``f(t) = o_z + t d_z - h(o_x + t d_x, o_y + t d_y)``;
the crossing is then refined with Newton iterations on the analytic surface, so hit points lie on the
true surface to well below a micrometre.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.synthetic.scene import TissueSurface

Float = NDArray[np.float64]
F32 = NDArray[np.float32]


@dataclass(frozen=True)
class HeightGrid:
    """The static heightfield and the breathing envelope sampled on a square (x, y) grid."""

    values: F32
    """(N, N) heights without breathing."""
    envelope: F32
    """(N, N) breathing envelope: the heave at a grid point is ``envelope * breathing_offset / amplitude``."""
    origin_m: float
    """World x (and y) of grid sample (0, 0)."""
    spacing_m: float
    """Grid spacing."""

    @classmethod
    def from_surface(cls, surface: TissueSurface, extent_m: float, spacing_m: float = 5e-4) -> HeightGrid:
        """Sample ``surface`` over ``[-extent/2, extent/2]^2``."""
        count = round(extent_m / spacing_m) + 1
        origin = -0.5 * (count - 1) * spacing_m
        axis = origin + spacing_m * np.arange(count)
        X, Y = np.meshgrid(axis, axis)
        values = surface.height(X, Y).astype(np.float32)
        envelope = np.exp(-0.5 * (X * X + Y * Y) / surface.breathing_radius_m**2).astype(np.float32)
        return cls(values, envelope, origin, spacing_m)

    def lookup(self, x: Float, y: Float, heave: float) -> Float:
        """Bilinear heights (H, W) at world points x, y of shape (H, W) with breathing ``heave``."""
        map_x = ((x - self.origin_m) / self.spacing_m).astype(np.float32)
        map_y = ((y - self.origin_m) / self.spacing_m).astype(np.float32)
        grid = self.values if heave == 0.0 else self.values + np.float32(heave) * self.envelope
        return cv2.remap(grid, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(
            np.float64
        )


def intersect_heightfield(
    surface: TissueSurface,
    grid: HeightGrid,
    origin: Float,
    directions: Float,
    time_s: float,
    *,
    step_m: float = 1e-3,
    newton_iterations: int = 4,
) -> Float:
    """Ray parameters (H, W) of the first tissue hits of rays ``origin + t * directions``.

    ``origin`` is (3,) and ``directions`` (H, W, 3) (any length; with ``d_z = 1`` in the camera frame,
    ``t`` is the depth along the optical axis). NaN where a ray does not hit the tissue.
    """
    heave = surface.breathing_offset(time_s)
    z_lo = float(grid.values.min()) - abs(heave) - 1e-4
    z_hi = float(grid.values.max()) + abs(heave) + 1e-4
    ox, oy, oz = (float(v) for v in origin)
    dx, dy, dz = directions[..., 0], directions[..., 1], directions[..., 2]
    upward = dz > 1e-9
    safe_dz = np.where(upward, dz, 1.0)
    t_lo = np.maximum((z_lo - oz) / safe_dz, 0.0)
    t_hi = np.maximum((z_hi - oz) / safe_dz, t_lo)
    steps = max(2, int(np.ceil((z_hi - z_lo) / step_m)))

    found = ~upward
    t_a = np.zeros_like(dz)
    t_b = np.zeros_like(dz)
    f_a = np.zeros_like(dz)
    f_b = np.ones_like(dz)
    prev_t = t_lo
    prev_f = oz + t_lo * dz - grid.lookup(ox + t_lo * dx, oy + t_lo * dy, heave)
    for k in range(1, steps + 1):
        t = t_lo + (t_hi - t_lo) * (k / steps)
        f = oz + t * dz - grid.lookup(ox + t * dx, oy + t * dy, heave)
        crossed = ~found & (f >= 0.0)
        if np.any(crossed):
            t_a[crossed], f_a[crossed] = prev_t[crossed], prev_f[crossed]
            t_b[crossed], f_b[crossed] = t[crossed], f[crossed]
            found |= crossed
            if found.all():
                break
        prev_t, prev_f = t, f
    hit = found & upward
    span = t_b - t_a
    t = np.where(hit, t_a - f_a * span / np.where(f_b > f_a, f_b - f_a, 1.0), np.nan)
    # Newton on the analytic surface, kept within one march step of the grid bracket
    t_min, t_max = t_a - span, t_b + span
    for _ in range(newton_iterations):
        h, gx, gy = surface.height_and_gradient(ox + t * dx, oy + t * dy, time_s)
        f = oz + t * dz - h
        slope = dz - gx * dx - gy * dy
        step = np.where(slope > 1e-9, f / np.where(slope > 1e-9, slope, 1.0), 0.0)
        t = np.clip(t - step, t_min, t_max)
    return np.where(hit, t, np.nan)


def heightfield_residual(
    surface: TissueSurface, origin: Float, directions: Float, t: Float, time_s: float
) -> Float:
    """``|o_z + t d_z - h(o_x + t d_x, o_y + t d_y)|`` (H, W) in metres: how far hits are off the surface."""
    points = origin + t[..., None] * directions
    return np.abs(points[..., 2] - surface.height(points[..., 0], points[..., 1], time_s))
