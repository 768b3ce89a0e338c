"""Camera rays in the world frame and the SE(3) exponential for pose corrections.

Conventions (``stereo_nerf_core.geometry``): OpenCV/ROS optical frames (x right, y down, z forward),
metres; ``T_world_camera`` (4, 4) maps camera points into the world. Pixel coordinates ``(u, v)``
are pixel-centre coordinates: integer values are pixel centres, as for ``K``'s principal point.
A ray point at distance ``t`` along the unit direction has depth ``Z = t * z_per_distance`` along the
optical axis (REP 118 depth). Ray construction is differentiable w.r.t. ``T_world_camera`` and ``K``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from stereo_nerf_core.render.errors import RenderError


@dataclass
class RayBundle:
    """N rays; all tensors on one device."""

    origins: Tensor
    """(N, 3) ray origins (camera centres) in world metres."""
    directions: Tensor
    """(N, 3) unit directions in the world frame."""
    z_per_distance: Tensor
    """(N,) cos of the angle between the ray and its camera's optical axis: ``Z = t * z_per_distance``."""
    pixel_ids: Tensor | None = None
    """(N,) int64 row-major pixel index ``v * width + u``, or None."""
    camera_ids: Tensor | None = None
    """(N,) int64 camera / keyframe id, or None."""
    times: Tensor | None = None
    """(N,) float32 time of each ray in seconds (time-conditioned models), or None."""

    def __post_init__(self) -> None:
        if self.origins.ndim != 2 or self.origins.shape[1] != 3:
            raise RenderError(f"RayBundle.origins must have shape (N, 3), got {tuple(self.origins.shape)}")
        n = self.origins.shape[0]
        if tuple(self.directions.shape) != (n, 3):
            raise RenderError(
                f"RayBundle.directions must have shape (N, 3) = ({n}, 3), got {tuple(self.directions.shape)}"
            )
        for name in ("z_per_distance", "pixel_ids", "camera_ids", "times"):
            value = getattr(self, name)
            if value is not None and tuple(value.shape) != (n,):
                raise RenderError(f"RayBundle.{name} must have shape (N,) = ({n},), got {tuple(value.shape)}")

    def __len__(self) -> int:
        return int(self.origins.shape[0])

    def index(self, selection: slice | Tensor) -> RayBundle:
        """The rays at ``selection`` (a slice, an index tensor or a boolean mask)."""
        return RayBundle(
            origins=self.origins[selection],
            directions=self.directions[selection],
            z_per_distance=self.z_per_distance[selection],
            pixel_ids=None if self.pixel_ids is None else self.pixel_ids[selection],
            camera_ids=None if self.camera_ids is None else self.camera_ids[selection],
            times=None if self.times is None else self.times[selection],
        )

    def to(self, device: torch.device | str) -> RayBundle:
        """The bundle on ``device``."""
        return RayBundle(
            origins=self.origins.to(device),
            directions=self.directions.to(device),
            z_per_distance=self.z_per_distance.to(device),
            pixel_ids=None if self.pixel_ids is None else self.pixel_ids.to(device),
            camera_ids=None if self.camera_ids is None else self.camera_ids.to(device),
            times=None if self.times is None else self.times.to(device),
        )


def camera_rays(K: Tensor, T_world_camera: Tensor, pixels: Tensor) -> RayBundle:
    """World rays through pixel-centre coordinates ``pixels`` (N, 2) as (u, v).

    ``K`` is (3, 3) or (N, 3, 3) and ``T_world_camera`` (4, 4) or (N, 4, 4) (one camera per ray);
    skew ``K[0, 1]`` is honoured. Origins are the camera centres, directions unit vectors,
    ``z_per_distance = 1 / |K^-1 (u, v, 1)|``. Differentiable w.r.t. ``K`` and ``T_world_camera``
    (compose a learnable correction, ``T @ se3_exp(xi)``, before calling for pose refinement).
    """
    if pixels.ndim != 2 or pixels.shape[1] != 2:
        raise RenderError(f"pixels must have shape (N, 2) as (u, v), got {tuple(pixels.shape)}")
    n = pixels.shape[0]
    if K.shape not in ((3, 3), (n, 3, 3)):
        raise RenderError(f"K must have shape (3, 3) or (N, 3, 3) with N = {n}, got {tuple(K.shape)}")
    if T_world_camera.shape not in ((4, 4), (n, 4, 4)):
        raise RenderError(
            f"T_world_camera must have shape (4, 4) or (N, 4, 4) with N = {n}, got {tuple(T_world_camera.shape)}"
        )
    dtype = torch.promote_types(T_world_camera.dtype, K.dtype)
    uv = pixels.to(dtype)
    Kb = K.to(dtype).expand(n, 3, 3)
    y = (uv[:, 1] - Kb[:, 1, 2]) / Kb[:, 1, 1]
    x = (uv[:, 0] - Kb[:, 0, 2] - Kb[:, 0, 1] * y) / Kb[:, 0, 0]
    camera_dirs = torch.stack([x, y, torch.ones_like(x)], dim=1)
    length = torch.linalg.vector_norm(camera_dirs, dim=1)
    T = T_world_camera.to(dtype)
    if T.ndim == 2:
        directions = (camera_dirs / length[:, None]) @ T[:3, :3].T
        origins = T[:3, 3].expand(n, 3)
    else:
        directions = torch.einsum("nij,nj->ni", T[:, :3, :3], camera_dirs / length[:, None])
        origins = T[:, :3, 3]
    return RayBundle(origins=origins, directions=directions, z_per_distance=1.0 / length)


def image_rays(K: Tensor, T_world_camera: Tensor, width: int, height: int) -> RayBundle:
    """Rays of every pixel centre of a ``width`` x ``height`` image, row-major (H * W), with ``pixel_ids``."""
    if width < 1 or height < 1:
        raise RenderError(f"image size must be positive, got {width}x{height}")
    device = T_world_camera.device
    v, u = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float64),
        torch.arange(width, device=device, dtype=torch.float64),
        indexing="ij",
    )
    rays = camera_rays(K, T_world_camera, torch.stack([u.reshape(-1), v.reshape(-1)], dim=1))
    rays.pixel_ids = torch.arange(width * height, device=device)
    return rays
