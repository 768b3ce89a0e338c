"""World-space tissue texture: mottled pink/red albedo with branching vessels, plus a bump map.

The texture is an image over the world (x, y) plane (texel ``texel_m``) that the renderer samples
bilinearly at ray hit points, so both cameras see the same surface pattern at every depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

F32 = NDArray[np.float32]

TEXTURE_STREAM = 2
"""Random stream id of the texture: ``np.random.default_rng([seed, TEXTURE_STREAM])``."""

# Display-referred (gamma 2.2) colours, converted to linear albedo below.
_PINK = np.array([0.86, 0.52, 0.48], dtype=np.float32)
_RED = np.array([0.74, 0.30, 0.27], dtype=np.float32)
_PALE = np.array([0.92, 0.66, 0.60], dtype=np.float32)
_FAT = np.array([0.92, 0.76, 0.58], dtype=np.float32)
_VESSEL = np.array([0.46, 0.08, 0.10], dtype=np.float32)
_CAPILLARY = np.array([0.64, 0.18, 0.18], dtype=np.float32)


@dataclass(frozen=True)
class TissueTexture:
    """Albedo (linear RGB) and shading-normal slope images over the world (x, y) plane."""

    albedo: F32
    """(Ht, Wt, 3) linear RGB albedo in [0, 1]."""
    bump: F32
    """(Ht, Wt, 2) extra surface slope (d/dx, d/dy) that only perturbs shading normals."""
    origin_m: tuple[float, float]
    """World (x, y) of the centre of texel (0, 0)."""
    texel_m: float
    """Texel size in metres."""

    @property
    def mean_luminance(self) -> float:
        """Mean Rec. 709 luminance of the linear albedo."""
        weights = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
        return float(np.mean(self.albedo @ weights))

    def sample(self, x: ArrayLike, y: ArrayLike) -> tuple[F32, F32]:
        """Bilinear albedo (H, W, 3) and bump slope (H, W, 2) at world points x, y of shape (H, W)."""
        map_x = ((np.asarray(x) - self.origin_m[0]) / self.texel_m).astype(np.float32)
        map_y = ((np.asarray(y) - self.origin_m[1]) / self.texel_m).astype(np.float32)
        map_x = np.nan_to_num(map_x, nan=-1.0)
        map_y = np.nan_to_num(map_y, nan=-1.0)
        albedo = cv2.remap(self.albedo, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        bump = cv2.remap(self.bump, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        return albedo, bump


def fractal_value_noise(
    rng: np.random.Generator, size: int, feature_texels: float, octaves: int, persistence: float = 0.5
) -> F32:
    """Fractal value noise (size, size) in about [0, 1]: ``octaves`` bicubic-upsampled random grids,
    the first with features of ``feature_texels`` texels, each next one half as large and
    ``persistence`` times as strong."""
    total = np.zeros((size, size), dtype=np.float32)
    weight, norm = 1.0, 0.0
    feature = feature_texels
    for _ in range(octaves):
        cells = max(2, round(size / max(feature, 1.0)))
        grid = rng.uniform(0.0, 1.0, (cells + 3, cells + 3)).astype(np.float32)
        # upsample a grid one cell larger than needed and crop, so borders are not clamped
        big = cv2.resize(grid, (size * (cells + 3) // cells,) * 2, interpolation=cv2.INTER_CUBIC)
        offset = size // cells
        total += weight * big[offset : offset + size, offset : offset + size]
        norm += weight
        weight *= persistence
        feature /= 2.0
    noise = total / norm
    lo, hi = np.percentile(noise, [0.5, 99.5])
    return np.clip((noise - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)


def draw_vessels(
    rng: np.random.Generator, size: int, texel_m: float, trees: int, scale: float = 1.0
) -> F32:
    """Coverage (size, size) in [0, 1] of ``trees`` random branching vessel trees (anti-aliased);
    ``scale`` shrinks their widths, lengths and segment lengths (0.3: a capillary network)."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    segment = scale * 0.0012 / texel_m
    stack: list[tuple[float, float, float, float, float, int]] = []
    for _ in range(trees):
        x, y = rng.uniform(0.0, size, 2)
        width = scale * rng.uniform(0.45e-3, 0.9e-3) / texel_m
        length = scale * rng.uniform(40e-3, 90e-3) / texel_m
        stack.append((x, y, rng.uniform(0.0, 2.0 * np.pi), width, length, 0))
    while stack:
        x, y, heading, width, length, level = stack.pop()
        points = [(x, y)]
        turn = 0.0
        for _ in range(max(2, int(length / segment))):
            turn = 0.7 * turn + rng.normal(0.0, 0.12)
            heading += turn
            x, y = x + segment * np.cos(heading), y + segment * np.sin(heading)
            points.append((x, y))
            if level < 3 and rng.uniform() < 0.07:
                side = 1.0 if rng.uniform() < 0.5 else -1.0
                child = (x, y, heading + side * rng.uniform(0.4, 1.1), width * 0.6, length * 0.45, level + 1)
                stack.append(child)
        shade = int(255 * (0.9 if level == 0 else rng.uniform(0.45, 0.85)))
        polyline = np.round(np.array(points) * 16).astype(np.int32)  # 4 fractional bits
        thickness = max(1, round(width))
        cv2.polylines(canvas, [polyline], False, shade, thickness, cv2.LINE_AA, 4)
    return canvas.astype(np.float32) / 255.0


def build_tissue_texture(
    seed: int, *, extent_m: float, texel_m: float, prefilter_sigma_m: float = 0.0, bump_slope: float = 0.06
) -> TissueTexture:
    """The tissue texture of ``seed`` over ``[-extent/2, extent/2]^2``; ``prefilter_sigma_m`` blurs it
    to the pixel footprint of the rendering resolution (anti-aliasing, like a mip level)."""
    rng = np.random.default_rng([seed, TEXTURE_STREAM])
    size = round(extent_m / texel_m)
    mm = 1e-3 / texel_m
    blotch = fractal_value_noise(rng, size, 14 * mm, 3)
    mottle = fractal_value_noise(rng, size, 2.5 * mm, 3)
    grain = fractal_value_noise(rng, size, 0.7 * mm, 3)
    fat = np.clip((fractal_value_noise(rng, size, 18 * mm, 2) - 0.8) * 4.0, 0.0, 0.6)
    area = (extent_m / 0.24) ** 2
    vessels = draw_vessels(rng, size, texel_m, trees=max(1, round(45 * area)))
    vessels = cv2.GaussianBlur(vessels, (0, 0), 0.06 * mm)
    capillaries = draw_vessels(rng, size, texel_m, trees=max(1, round(250 * area)), scale=0.3)

    red_mix = np.clip(0.35 + 0.9 * (blotch - 0.5) + 0.7 * (mottle - 0.5), 0.0, 1.0)[..., None]
    colour = _PINK * (1.0 - red_mix) + _RED * red_mix
    pale = np.clip(0.8 * (mottle - 0.5), 0.0, 1.0)[..., None]
    colour = colour * (1.0 - pale) + _PALE * pale
    colour = colour * (1.0 - fat[..., None]) + _FAT * fat[..., None]
    colour = colour * (0.8 + 0.4 * grain[..., None])
    alpha = (0.5 * capillaries)[..., None]
    colour = colour * (1.0 - alpha) + _CAPILLARY * alpha
    alpha = (0.85 * vessels)[..., None]
    colour = colour * (1.0 - alpha) + _VESSEL * alpha
    albedo = np.clip(colour, 0.0, 1.0).astype(np.float32) ** np.float32(2.2)

    relief = fractal_value_noise(rng, size, 0.8 * mm, 3) + 0.5 * vessels
    gy, gx = np.gradient(relief)
    slopes = np.stack([gx, gy], axis=-1).astype(np.float32)
    slopes *= np.float32(bump_slope / max(float(np.std(slopes)), 1e-12))

    sigma_texels = prefilter_sigma_m / texel_m
    if sigma_texels > 0.3:
        albedo = cv2.GaussianBlur(albedo, (0, 0), sigma_texels)
        slopes = cv2.GaussianBlur(slopes, (0, 0), sigma_texels)
    origin = -0.5 * extent_m + 0.5 * texel_m
    return TissueTexture(
        np.ascontiguousarray(albedo, dtype=np.float32),
        np.ascontiguousarray(slopes, dtype=np.float32),
        (origin, origin),
        texel_m,
    )
