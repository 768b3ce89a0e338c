"""The tissue surface: a smooth analytic heightfield ``z = h(x, y, t)`` in the world frame.

The camera looks along world +z, so the tissue lies at positive z and folds that rise towards the
camera have *smaller* z. ``h`` is a tilted plane plus elongated Gaussian folds plus gentle
undulations and, optionally, a periodic breathing heave; its gradient is analytic, so normals and the
true surface (for evaluation) are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Float = NDArray[np.float64]

SURFACE_STREAM = 1
"""Random stream id of the surface layout: ``np.random.default_rng([seed, SURFACE_STREAM])``."""


@dataclass(frozen=True)
class TissueSurface:
    """Heightfield ``h(x, y, t)`` in metres (world frame); arrays hold one entry per fold / wave."""

    tilt: Float
    """(2,) slope of the mean plane: dz/dx, dz/dy."""
    fold_centres: Float
    """(K, 2) fold centres (x, y)."""
    fold_across: Float
    """(K, 2) unit directions across each fold (the short axis)."""
    fold_widths: Float
    """(K,) Gaussian sigma across the fold."""
    fold_lengths: Float
    """(K,) Gaussian sigma along the fold."""
    fold_heights: Float
    """(K,) displacement along z (negative: towards the camera)."""
    wave_vectors: Float
    """(M, 2) spatial angular frequencies (rad/m) of the undulations."""
    wave_amplitudes: Float
    """(M,) undulation amplitudes."""
    wave_phases: Float
    """(M,) undulation phases."""
    breathing_amplitude_m: float = 0.0
    """Peak heave along z of the periodic motion."""
    breathing_period_s: float = 4.0
    """Period of the periodic motion."""
    breathing_radius_m: float = 0.05
    """Gaussian sigma of the heave's spatial envelope around the world origin."""

    @classmethod
    def from_seed(
        cls,
        seed: int,
        *,
        fold_amplitude_m: float = 0.012,
        tilt: float = 0.12,
        breathing_amplitude_m: float = 0.0,
        breathing_period_s: float = 4.0,
        max_slope: float = 0.9,
    ) -> TissueSurface:
        """A random but bounded layout: folds around the origin, slopes at most ``max_slope``."""
        rng = np.random.default_rng([seed, SURFACE_STREAM])
        count = 7
        angles = rng.uniform(0.0, np.pi, count)
        radius = 0.045 * np.sqrt(rng.uniform(0.0, 1.0, count))
        phi = rng.uniform(0.0, 2.0 * np.pi, count)
        centres = np.stack([radius * np.cos(phi), radius * np.sin(phi)], axis=1)
        signs = np.where(rng.uniform(size=count) < 0.7, -1.0, 1.0)
        heights = signs * fold_amplitude_m * rng.uniform(0.45, 1.0, count)
        waves = rng.uniform(0.0, 2.0 * np.pi, 3)
        wavelengths = rng.uniform(0.03, 0.06, 3)
        surface = cls(
            tilt=np.array([tilt, 0.3 * tilt * rng.uniform(-1.0, 1.0)]),
            fold_centres=centres,
            fold_across=np.stack([np.cos(angles), np.sin(angles)], axis=1),
            fold_widths=rng.uniform(0.008, 0.014, count),
            fold_lengths=rng.uniform(0.02, 0.045, count),
            fold_heights=heights,
            wave_vectors=np.stack([np.cos(waves), np.sin(waves)], axis=1)
            * (2.0 * np.pi / wavelengths)[:, None],
            wave_amplitudes=0.12 * fold_amplitude_m * rng.uniform(0.5, 1.0, 3),
            wave_phases=rng.uniform(0.0, 2.0 * np.pi, 3),
            breathing_amplitude_m=breathing_amplitude_m,
            breathing_period_s=breathing_period_s,
        )
        return surface._limited_slope(max_slope)

    def _limited_slope(self, max_slope: float) -> TissueSurface:
        """The same layout with folds and waves scaled down until no slope exceeds ``max_slope``."""
        axis = np.linspace(-0.12, 0.12, 481)
        x, y = np.meshgrid(axis, axis)
        _, gx, gy = self.height_and_gradient(x, y)
        steepest = float(np.max(np.hypot(gx, gy)))
        if steepest <= max_slope:
            return self
        flat = float(np.hypot(*self.tilt))
        scale = max(0.0, (max_slope - flat) / max(steepest - flat, 1e-12))
        return TissueSurface(
            self.tilt,
            self.fold_centres,
            self.fold_across,
            self.fold_widths,
            self.fold_lengths,
            self.fold_heights * scale,
            self.wave_vectors,
            self.wave_amplitudes * scale,
            self.wave_phases,
            self.breathing_amplitude_m,
            self.breathing_period_s,
            self.breathing_radius_m,
        )

    def breathing_offset(self, time_s: float) -> float:
        """Heave factor ``amplitude * sin(2 pi t / period)`` at ``time_s`` (metres at the origin)."""
        if self.breathing_amplitude_m == 0.0:
            return 0.0
        return float(self.breathing_amplitude_m * np.sin(2.0 * np.pi * time_s / self.breathing_period_s))

    def height(self, x: ArrayLike, y: ArrayLike, time_s: float = 0.0) -> Float:
        """Tissue z (metres, world frame) under world (x, y); any broadcastable shapes."""
        return self.height_and_gradient(x, y, time_s)[0]

    def height_and_gradient(
        self, x: ArrayLike, y: ArrayLike, time_s: float = 0.0
    ) -> tuple[Float, Float, Float]:
        """``h``, ``dh/dx`` and ``dh/dy`` at world (x, y), each with the broadcast shape of x and y."""
        X, Y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        h = self.tilt[0] * X + self.tilt[1] * Y
        gx = np.full(X.shape, self.tilt[0])
        gy = np.full(X.shape, self.tilt[1])
        for centre, across, width, length, height in zip(
            self.fold_centres,
            self.fold_across,
            self.fold_widths,
            self.fold_lengths,
            self.fold_heights,
            strict=True,
        ):
            dx, dy = X - centre[0], Y - centre[1]
            a = dx * across[0] + dy * across[1]
            b = dy * across[0] - dx * across[1]
            a_w = a / (width * width)
            b_l = b / (length * length)
            e = height * np.exp(-0.5 * (a * a_w + b * b_l))
            h += e
            # d/dx of a is across[0], of b is -across[1]; d/dy: across[1], across[0]
            gx -= e * (a_w * across[0] - b_l * across[1])
            gy -= e * (a_w * across[1] + b_l * across[0])
        for k, amplitude, phase in zip(
            self.wave_vectors, self.wave_amplitudes, self.wave_phases, strict=True
        ):
            arg = k[0] * X + k[1] * Y + phase
            h += amplitude * np.sin(arg)
            c = amplitude * np.cos(arg)
            gx += c * k[0]
            gy += c * k[1]
        heave = self.breathing_offset(time_s)
        if heave != 0.0:
            s2 = self.breathing_radius_m**2
            envelope = heave * np.exp(-0.5 * (X * X + Y * Y) / s2)
            h += envelope
            gx -= envelope * X / s2
            gy -= envelope * Y / s2
        return h, gx, gy

    def normals(self, x: ArrayLike, y: ArrayLike, time_s: float = 0.0) -> Float:
        """Unit normals (..., 3) facing the camera side (negative z) at world (x, y)."""
        _, gx, gy = self.height_and_gradient(x, y, time_s)
        n = np.stack([gx, gy, -np.ones_like(gx)], axis=-1)
        return n / np.linalg.norm(n, axis=-1, keepdims=True)


def true_surface_points(
    surface: TissueSurface,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    spacing_m: float,
    time_s: float = 0.0,
) -> Float:
    """Points (N, 3) of the true tissue surface (world frame) on a regular (x, y) grid."""
    xs = np.arange(x_range[0], x_range[1] + 0.5 * spacing_m, spacing_m)
    ys = np.arange(y_range[0], y_range[1] + 0.5 * spacing_m, spacing_m)
    X, Y = np.meshgrid(xs, ys)
    return np.stack([X, Y, surface.height(X, Y, time_s)], axis=-1).reshape(-1, 3)


def true_surface_mesh(
    surface: TissueSurface,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    spacing_m: float,
    time_s: float = 0.0,
) -> tuple[Float, NDArray[np.int64]]:
    """The true tissue surface as a triangle mesh: vertices (N, 3) in the world frame and triangles
    (M, 3) of vertex indices, wound so their normals face the camera (negative z)."""
    vertices = true_surface_points(surface, x_range, y_range, spacing_m, time_s)
    nx = len(np.arange(x_range[0], x_range[1] + 0.5 * spacing_m, spacing_m))
    ny = vertices.shape[0] // nx
    index = np.arange(nx * ny).reshape(ny, nx)
    a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
    c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()
    # (b - a) x (c - a) = +x cross +y = +z; swap to face -z (towards the camera)
    triangles = np.concatenate([np.stack([a, c, b], axis=1), np.stack([b, c, d], axis=1)])
    return vertices, triangles.astype(np.int64)
