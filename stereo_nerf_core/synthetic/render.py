"""Rendering of raw (distorted, unrectified) stereo frames with ground truth.

Per raw pixel, the undistorted ray of :meth:`PinholeCamera.pixel_rays` is rotated into the world and
cast against the tissue and the instrument. Shading: one light at the midpoint of the two cameras
(inverse-square fall-off, a cone along the optical axis), Lambertian diffuse plus a sharp Blinn-Phong
highlight that moves with the camera, a shadow of the instrument, then the :class:`SensorModel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera
from stereo_nerf_core.synthetic.raycast import intersect_heightfield
from stereo_nerf_core.synthetic.sensor import SensorModel
from stereo_nerf_core.synthetic.world import SyntheticWorld

Float = NDArray[np.float64]
F32 = NDArray[np.float32]
Side = Literal["left", "right"]

NOISE_STREAM = 4
"""Random stream id of sensor noise: ``np.random.default_rng([seed, NOISE_STREAM, frame, view])``."""
AMBIENT = 0.03
"""Share of the light that reaches tissue indirectly (inter-reflection), relative to direct light."""
INSTRUMENT_SPECULAR = 0.5
"""Linear peak of the instrument's metallic highlight."""
INSTRUMENT_SHININESS = 60.0
"""Blinn-Phong exponent of the instrument's highlight."""


@dataclass(frozen=True)
class ViewRender:
    """One raw image with its ground truth on the same raw pixel grid."""

    image: NDArray[np.uint8]
    """(H, W, 3) RGB, 8 bit."""
    depth: F32
    """(H, W) Z in metres along this camera's raw optical axis; NaN where no surface is hit."""
    instrument_mask: NDArray[np.bool_]
    """(H, W) True where the instrument is the visible surface."""
    specular: F32
    """(H, W) linear specular radiance (before vignetting and noise): where highlights are."""


@dataclass(frozen=True)
class RenderedStereoFrame:
    """Both raw views of one instant and the pose of the left raw optical frame."""

    index: int
    time_s: float
    T_world_left: Float
    """(4, 4) pose of the left raw optical frame in the world frame."""
    left: ViewRender
    right: ViewRender


def _normalised(v: Float) -> Float:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-15)


@dataclass(frozen=True)
class Lighting:
    """The endoscope light and the viewing camera of one rendered view (world frame)."""

    eye: Float
    """(3,) centre of the viewing camera."""
    light: Float
    """(3,) position of the light (midpoint of the two camera centres)."""
    light_axis: Float
    """(3,) unit direction the light's cone is centred on (the optical axis)."""
    reference_distance_m: float
    """Distance at which the irradiance of the cone's centre is 1."""
    falloff_power: float
    """Emitted intensity ~ cos(angle to light_axis) ** falloff_power."""


def blinn_phong(
    points: Float,
    normals: Float,
    albedo: Float,
    lighting: Lighting,
    *,
    specular_strength: float,
    shininess: float,
    shadowed: NDArray[np.bool_] | None = None,
) -> tuple[Float, Float]:
    """Linear diffuse radiance (H, W, 3) and specular radiance (H, W) of surface points (H, W, 3)
    with unit normals (H, W, 3) and albedo (H, W, 3): inverse-square, cone-shaped light, Lambertian
    diffuse plus a Blinn-Phong highlight seen from ``lighting.eye``; ``shadowed`` (H, W) points only
    get the ambient share."""
    to_light = lighting.light - points
    distance = np.linalg.norm(to_light, axis=-1)
    l_dir = to_light / np.maximum(distance, 1e-12)[..., None]
    v_dir = _normalised(lighting.eye - points)
    cone = np.clip(-(l_dir @ lighting.light_axis), 0.0, 1.0) ** lighting.falloff_power
    irradiance = (lighting.reference_distance_m / np.maximum(distance, 1e-9)) ** 2 * cone
    cos_light = np.einsum("...i,...i->...", normals, l_dir)
    lit = cos_light > 0.0
    if shadowed is not None:
        lit &= ~shadowed
    diffuse = albedo * (irradiance * (np.where(lit, cos_light, 0.0) + AMBIENT))[..., None]
    cos_half = np.clip(np.einsum("...i,...i->...", normals, _normalised(l_dir + v_dir)), 0.0, 1.0)
    specular = np.where(lit, specular_strength * irradiance * cos_half**shininess, 0.0)
    return diffuse, specular


class StereoRenderer:
    """Renders frames of a :class:`SyntheticWorld`; rays and sensor maps are computed once."""

    def __init__(self, world: SyntheticWorld) -> None:
        self.world = world
        config = world.config
        rig = world.rig
        self._rays: dict[Side, Float] = {"left": rig.left.pixel_rays(), "right": rig.right.pixel_rays()}
        self._T_left_view: dict[Side, Float] = {"left": np.eye(4), "right": rig.T_left_right}
        cameras: dict[Side, PinholeCamera] = {"left": rig.left, "right": rig.right}
        self._sensors = {
            side: SensorModel.for_camera(
                camera,
                vignetting=config.vignetting,
                blur_sigma_px=config.optical_blur_px,
                full_well_electrons=config.full_well_electrons,
                read_noise_electrons=config.read_noise_electrons,
                gamma=config.gamma,
            )
            for side, camera in cameras.items()
        }
        self.gain = config.mid_grey_linear / world.texture.mean_luminance
        """Exposure: linear value per unit albedo of tissue facing the light at the standoff."""

    def render(self, index: int, *, noise: bool | None = None) -> RenderedStereoFrame:
        """Frame ``index``: both raw views exposed at the same instant (noise per config unless given)."""
        time_s = self.world.frame_time_s(index)
        T_world_left = self.world.trajectory.pose(time_s)
        with_noise = self.world.config.noise if noise is None else noise
        views = {
            side: self.render_view(side, T_world_left, time_s, self._rng(index, side) if with_noise else None)
            for side in ("left", "right")
        }
        return RenderedStereoFrame(index, time_s, T_world_left, views["left"], views["right"])

    def _rng(self, index: int, side: Side) -> np.random.Generator:
        return np.random.default_rng(
            [self.world.config.seed, NOISE_STREAM, index, 0 if side == "left" else 1]
        )

    def render_view(
        self, side: Side, T_world_left: Float, time_s: float, rng: np.random.Generator | None
    ) -> ViewRender:
        """One raw view of the rig posed at ``T_world_left`` (4, 4) at scene time ``time_s``."""
        world, config = self.world, self.world.config
        T_world_view = T_world_left @ self._T_left_view[side]
        eye = T_world_view[:3, 3]
        directions = self._rays[side] @ T_world_view[:3, :3].T  # camera z component 1: t is depth
        light = T_world_left[:3, :3] @ world.rig.light_position_left + T_world_left[:3, 3]
        light_axis = T_world_left[:3, 2]
        lighting = Lighting(eye, light, light_axis, config.standoff_m, config.light_falloff_power)

        t_tissue = intersect_heightfield(world.surface, world.grid, eye, directions, time_s)
        tissue_hit = np.isfinite(t_tissue)
        t_safe = np.where(tissue_hit, t_tissue, 0.0)
        points = eye + t_safe[..., None] * directions
        _, gx, gy = world.surface.height_and_gradient(points[..., 0], points[..., 1], time_s)
        albedo, bump = world.texture.sample(points[..., 0], points[..., 1])
        normals = _normalised(np.stack([gx + bump[..., 0], gy + bump[..., 1], -np.ones_like(gx)], axis=-1))
        shadowed = None
        if world.instrument is not None:
            shadowed = tissue_hit & world.instrument.blocks(points, light, time_s)
        diffuse, specular = blinn_phong(
            points,
            normals,
            albedo.astype(np.float64),
            lighting,
            specular_strength=config.specular_strength,
            shininess=config.specular_shininess,
            shadowed=shadowed,
        )
        depth = t_tissue
        mask = np.zeros(t_tissue.shape, dtype=bool)
        if world.instrument is not None:
            hit = world.instrument.intersect(eye, directions, time_s)
            mask = np.isfinite(hit.t) & ~(t_tissue <= hit.t)
            if np.any(mask):
                i_diffuse, i_specular = blinn_phong(
                    hit.points,
                    hit.normals,
                    hit.albedo,
                    lighting,
                    specular_strength=INSTRUMENT_SPECULAR,
                    shininess=INSTRUMENT_SHININESS,
                )
                diffuse[mask] = i_diffuse[mask]
                specular[mask] = i_specular[mask]
                depth = np.where(mask, hit.t, depth)
        visible = tissue_hit | mask
        radiance = self.gain * diffuse + specular[..., None]
        radiance[~visible] = 0.0
        specular[~visible] = 0.0
        image = self._sensors[side].expose(radiance, rng)
        return ViewRender(image, depth.astype(np.float32), mask, specular.astype(np.float32))
