"""A surgical instrument: a metallic cylinder shaft with a hemispherical tip, ray-cast analytically.

The shaft lies on a fixed line in the world and slides along it (insertion), so it enters the view
through an image edge: its working position is defined in the camera frame at the settle time,
closer to the camera than the tissue, and before the insertion starts the tip is far outside the view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.synthetic.trajectory import CameraTrajectory

Float = NDArray[np.float64]

INSTRUMENT_STREAM = 3
"""Random stream id of the instrument layout: ``np.random.default_rng([seed, INSTRUMENT_STREAM])``."""

_EPS = 1e-7


@dataclass(frozen=True)
class InstrumentHit:
    """First intersections of a bundle of rays (H, W) with the instrument."""

    t: Float
    """(H, W) ray parameter of the hit; ``inf`` where the ray misses."""
    points: Float
    """(H, W, 3) world hit points (meaningless where missed)."""
    normals: Float
    """(H, W, 3) unit outward normals."""
    albedo: Float
    """(H, W, 3) linear RGB albedo (grey metal, dark insulation ring)."""


@dataclass(frozen=True)
class Instrument:
    """Cylinder of ``radius_m`` behind a hemispherical tip; ``back_axis`` points from the tip up the shaft."""

    radius_m: float
    back_axis: Float
    """(3,) unit direction from the tip towards the shaft's far end (world frame)."""
    rest_tip: Float
    """(3,) world position of the tip at its working position."""
    insertion_m: float
    """How far back along ``back_axis`` the tip starts."""
    enter_time_s: float
    """Time the insertion starts."""
    settle_time_s: float
    """Time the tip reaches its working position; afterwards it moves gently in and out."""
    wiggle_m: float = 0.002
    """Amplitude of the in/out motion after settling."""

    def tip(self, time_s: float) -> Float:
        """(3,) world position of the tip at ``time_s``."""
        if time_s <= self.enter_time_s:
            back = self.insertion_m
        elif time_s < self.settle_time_s:
            u = (time_s - self.enter_time_s) / (self.settle_time_s - self.enter_time_s)
            back = self.insertion_m * (1.0 - u * u * (3.0 - 2.0 * u))
        else:
            back = self.wiggle_m * float(np.sin(2.0 * np.pi * (time_s - self.settle_time_s) / 1.6))
        return self.rest_tip + back * self.back_axis

    def intersect(self, origins: Float, directions: Float, time_s: float) -> InstrumentHit:
        """First hits of rays ``origins + t * directions``; origins (3,) or (H, W, 3), directions (H, W, 3)
        (world frame)."""
        tip = self.tip(time_s)
        axis = self.back_axis
        r2 = self.radius_m**2
        w = np.broadcast_to(origins - tip, directions.shape)
        d_ax = directions @ axis
        w_ax = w @ axis
        # lateral surface of the infinite cylinder, kept only behind the tip (axial >= 0)
        d_perp = directions - d_ax[..., None] * axis
        w_perp = w - w_ax[..., None] * axis
        a = np.einsum("...i,...i->...", d_perp, d_perp)
        b = 2.0 * np.einsum("...i,...i->...", w_perp, d_perp)
        c = np.einsum("...i,...i->...", w_perp, w_perp) - r2
        t_cyl = _nearest_root(a, b, c)
        finite = np.isfinite(t_cyl)
        t_cyl[finite & (w_ax + np.where(finite, t_cyl, 0.0) * d_ax < 0.0)] = np.inf
        # hemispherical tip (the whole sphere: its back half is inside the shaft anyway)
        a = np.einsum("...i,...i->...", directions, directions)
        b = 2.0 * np.einsum("...i,...i->...", w, directions)
        c = np.einsum("...i,...i->...", w, w) - r2
        t_sph = _nearest_root(a, b, c)
        t = np.minimum(t_cyl, t_sph)
        hit = np.isfinite(t)
        t_safe = np.where(hit, t, 0.0)
        rel = w + t_safe[..., None] * directions
        axial = rel @ axis
        radial = rel - np.where(t_cyl <= t_sph, axial, 0.0)[..., None] * axis
        normals = radial / np.maximum(np.linalg.norm(radial, axis=-1, keepdims=True), 1e-12)
        return InstrumentHit(t, tip + rel, normals, _albedo(axial))

    def blocks(self, points: Float, light: Float, time_s: float) -> NDArray[np.bool_]:
        """(H, W) whether the segment from each point (H, W, 3) to the light (3,) crosses the instrument."""
        to_light = light - points
        hit = self.intersect(points, to_light, time_s)
        return hit.t < 1.0


def _nearest_root(a: Float, b: Float, c: Float) -> Float:
    """Smallest root > 0 of ``a t^2 + b t + c`` per element; ``inf`` where there is none."""
    disc = b * b - 4.0 * a * c
    ok = (disc >= 0.0) & (a > 1e-18)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    denom = np.where(ok, 2.0 * a, 1.0)
    t0 = (-b - sq) / denom
    t1 = (-b + sq) / denom
    t = np.where(t0 > _EPS, t0, np.where(t1 > _EPS, t1, np.inf))
    return np.where(ok, t, np.inf)


def _albedo(axial: Float) -> Float:
    """Linear albedo (..., 3) by distance behind the tip: bright metal tip, dark ring, grey shaft."""
    shaft = np.array([0.08, 0.083, 0.09])
    tip = np.array([0.22, 0.22, 0.23])
    ring = np.array([0.04, 0.04, 0.045])
    out = np.empty((*axial.shape, 3))
    out[...] = shaft
    out[axial < 0.006] = ring
    out[axial < 0.004] = tip
    return out


def make_instrument(
    trajectory: CameraTrajectory,
    seed: int,
    *,
    radius_m: float,
    enter_fraction: float,
    settle_fraction: float,
) -> Instrument:
    """An instrument entering from the upper right of the view, resting ~35 % nearer than the tissue."""
    rng = np.random.default_rng([seed, INSTRUMENT_STREAM])
    standoff = trajectory.standoff_m
    settle_time = settle_fraction * trajectory.duration_s
    T_world_cam = trajectory.pose(settle_time)
    rest_cam = np.array([rng.uniform(0.0, 0.08), rng.uniform(0.0, 0.08), rng.uniform(0.62, 0.7)]) * standoff
    back_cam = np.array([0.8, rng.uniform(-0.45, -0.25), -0.45])
    back_cam /= np.linalg.norm(back_cam)
    return Instrument(
        radius_m=radius_m,
        back_axis=T_world_cam[:3, :3] @ back_cam,
        rest_tip=T_world_cam[:3, :3] @ rest_cam + T_world_cam[:3, 3],
        insertion_m=0.85 * standoff,
        enter_time_s=enter_fraction * trajectory.duration_s,
        settle_time_s=settle_time,
    )
