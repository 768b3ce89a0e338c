"""Exact binary silhouettes by ray casting through pixel centres (open3d ``RaycastingScene``, CPU).

Used to score global-search candidates and to report final IoUs: a pixel is in the silhouette when the
ray through its centre (integer ``(u, v)``, as for ``K``'s principal point) hits a triangle in front of
the camera. The scene is built once per mesh in the object frame; each pose only moves the rays, so
thousands of low-resolution candidates are cheap (about 8 M rays/s on two CPU cores).
"""

from __future__ import annotations

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.mesh import Mesh

_RAYS_PER_CALL = 2_000_000
"""Most rays cast in one open3d call (bounds memory)."""


class HardRasterizer:
    """Binary silhouettes of one mesh at many poses."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(
            o3d.core.Tensor(mesh.vertices.astype(np.float32)), o3d.core.Tensor(mesh.faces.astype(np.uint32))
        )

    def covers(
        self, T_camera_object: NDArray[np.float64], K: NDArray[np.float64], pixels: NDArray[np.float64]
    ) -> NDArray[np.bool_]:
        """Whether the mesh covers image points ``pixels`` (P, 2) ``(u, v)``: (N, P) for poses (N, 4, 4)."""
        poses = np.asarray(T_camera_object, dtype=np.float64)
        if poses.ndim != 3 or poses.shape[1:] != (4, 4):
            raise AlignmentError(f"HardRasterizer: poses must be (N, 4, 4), got {poses.shape}")
        uv = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        directions = np.concatenate([uv, np.ones((uv.shape[0], 1))], axis=1) @ np.linalg.inv(K).T
        hits = np.zeros((poses.shape[0], uv.shape[0]), dtype=bool)
        if uv.shape[0] == 0:
            return hits
        per_call = max(1, _RAYS_PER_CALL // uv.shape[0])
        for start in range(0, poses.shape[0], per_call):
            block = poses[start : start + per_call]
            centres = -np.einsum("nji,nj->ni", block[:, :3, :3], block[:, :3, 3])
            rays = np.empty((block.shape[0], uv.shape[0], 6), dtype=np.float32)
            rays[..., :3] = centres[:, None, :]
            rays[..., 3:] = np.matmul(directions[None], block[:, :3, :3])  # R^T d per pose
            occluded = self._scene.test_occlusions(o3d.core.Tensor(rays.reshape(-1, 6))).numpy()
            hits[start : start + block.shape[0]] = occluded.reshape(block.shape[0], -1)
        return hits

    def render(
        self,
        T_camera_object: NDArray[np.float64],
        K: NDArray[np.float64],
        width: int,
        height: int,
        *,
        window: tuple[int, int, int, int] | None = None,
    ) -> NDArray[np.bool_]:
        """Masks (N, height, width) of the mesh at poses ``T_camera_object`` (N, 4, 4) with intrinsics ``K``.

        ``window = (x0, y0, x1, y1)`` (inclusive pixel bounds) casts rays there only; the rest is False.
        """
        x0, y0, x1, y1 = window if window is not None else (0, 0, width - 1, height - 1)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1)
        poses = np.asarray(T_camera_object, dtype=np.float64).reshape(-1, 4, 4)
        masks = np.zeros((poses.shape[0], height, width), dtype=bool)
        if x1 < x0 or y1 < y0:
            return masks
        u, v = np.meshgrid(np.arange(x0, x1 + 1, dtype=np.float64), np.arange(y0, y1 + 1, dtype=np.float64))
        hits = self.covers(poses, K, np.stack([u.ravel(), v.ravel()], axis=1))
        masks[:, y0 : y1 + 1, x0 : x1 + 1] = hits.reshape(-1, y1 - y0 + 1, x1 - x0 + 1)
        return masks


def mask_iou(rendered: NDArray[np.bool_], observed: NDArray[np.bool_]) -> NDArray[np.float64]:
    """IoU (N,) of binary masks ``rendered`` (N, H, W) against ``observed`` (H, W); 0 when both are empty."""
    inter = np.logical_and(rendered, observed).sum(axis=(-2, -1))
    union = np.logical_or(rendered, observed).sum(axis=(-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)
