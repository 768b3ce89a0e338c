"""TSDF fusion of metric depth maps with known camera poses (open3d's tensor VoxelBlockGrid).

The grid lives on the configured open3d device (``CUDA:0`` on a cart with a CUDA build of open3d,
``CPU:0`` otherwise). Surfaces are extracted where at least ``min_weight`` observations agree, and
optionally culled to what the integrated cameras saw first (a noisy depth map leaves a ghost
surface about one truncation distance behind the real one that no camera ever sees).
"""

from __future__ import annotations

import numpy as np
import open3d as o3d
import open3d.core as o3c
from numpy.typing import NDArray

from stereo_nerf_core.config import FusionConfig
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.transforms import invert_se3


def fusion_device(name: str) -> o3c.Device:
    """The open3d device for ``name`` ("auto", "CPU:0", "CUDA:0", ...); "auto" prefers CUDA."""
    if name == "auto":
        return o3c.Device("CUDA:0" if o3c.cuda.is_available() else "CPU:0")
    if name.upper().startswith("CUDA") and not o3c.cuda.is_available():
        raise GeometryError(f"fusion.device = {name!r} but this open3d build has no CUDA device")
    return o3c.Device(name)


class TsdfFusion:
    """Integrates (colour, depth, pose) frames of one pinhole camera into a coloured TSDF."""

    def __init__(self, config: FusionConfig, K: NDArray[np.float64], size: tuple[int, int]) -> None:
        self.config = config
        self.K = np.asarray(K, dtype=np.float64)
        self.size = size
        self.device = fusion_device(config.device)
        self.grid = o3d.t.geometry.VoxelBlockGrid(
            attr_names=("tsdf", "weight", "color"),
            attr_dtypes=(o3c.float32, o3c.float32, o3c.float32),
            attr_channels=((1), (1), (3)),
            voxel_size=config.voxel_size_m,
            block_resolution=16,
            block_count=config.block_count,
            device=self.device,
        )
        self._intrinsic = o3c.Tensor(self.K, o3c.float64)
        self._trunc_voxels = float(config.sdf_trunc_m / config.voxel_size_m)
        self.poses: list[NDArray[np.float64]] = []

    @property
    def frames(self) -> int:
        """Number of frames integrated."""
        return len(self.poses)

    def integrate(
        self, rgb: NDArray[np.uint8], depth: NDArray[np.float32], T_world_camera: NDArray[np.float64]
    ) -> bool:
        """Fuse one frame: RGB (H, W, 3) uint8, depth (H, W) metres (0 or NaN = none), camera pose (4, 4).

        Returns False (and fuses nothing) when the frame has no depth within ``max_depth_m``.
        """
        expected = (self.size[1], self.size[0])
        if depth.shape != expected or rgb.shape[:2] != expected:
            raise GeometryError(f"fusion expects images {expected}, got depth {depth.shape} and rgb {rgb.shape}")
        usable = np.isfinite(depth) & (depth > 0) & (depth <= self.config.max_depth_m)
        if not usable.any():
            return False
        clean = np.where(usable, depth, 0).astype(np.float32)
        depth_image = o3d.t.geometry.Image(o3c.Tensor(clean, device=self.device))
        colour = o3d.t.geometry.Image(o3c.Tensor(rgb.astype(np.float32) / 255.0, device=self.device))
        extrinsic = o3c.Tensor(invert_se3(T_world_camera), o3c.float64)
        max_depth = self.config.max_depth_m
        blocks = self.grid.compute_unique_block_coordinates(
            depth_image, self._intrinsic, extrinsic, 1.0, max_depth, self._trunc_voxels
        )
        self.grid.integrate(blocks, depth_image, colour, self._intrinsic, extrinsic, 1.0, max_depth, self._trunc_voxels)
        self.poses.append(np.asarray(T_world_camera, dtype=np.float64))
        return True

    def mesh(self) -> o3d.geometry.TriangleMesh:
        """Marching-cubes mesh of the zero level with vertex colours, culled if configured (empty before any frame)."""
        if not self.poses:
            return o3d.geometry.TriangleMesh()
        mesh = self.grid.extract_triangle_mesh(weight_threshold=self.config.min_weight).to_legacy()
        mesh.vertex_colors = o3d.utility.Vector3dVector(np.clip(np.asarray(mesh.vertex_colors), 0.0, 1.0))
        if self.config.cull_min_views > 0 and len(mesh.triangles) > 0:
            mesh = cull_unseen(mesh, self.K, self.size, self.poses, min_views=self.config.cull_min_views)
        mesh.compute_vertex_normals()
        return mesh


class MeshRaycaster:
    """Casts pinhole rays at a fixed mesh (the acceleration structure is built once)."""

    def __init__(self, mesh: o3d.geometry.TriangleMesh) -> None:
        self.empty = len(mesh.triangles) == 0
        self.scene = o3d.t.geometry.RaycastingScene()
        if not self.empty:
            self.scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(mesh))

    def cast(
        self, K: NDArray[np.float64], size: tuple[int, int], T_world_camera: NDArray[np.float64]
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Depth (H, W) in metres (Z along the camera axis, NaN where missed) and hit triangle ids (-1 = none)."""
        width, height = size
        if self.empty:
            return np.full((height, width), np.nan, np.float32), np.full((height, width), -1, np.int64)
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        # directions with z = 1 in the camera frame, so the hit distance along them is Z
        directions = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=2)
        directions = directions @ T_world_camera[:3, :3].T
        origins = np.broadcast_to(T_world_camera[:3, 3], directions.shape)
        rays = o3c.Tensor(np.concatenate([origins, directions], axis=2).astype(np.float32))
        result = self.scene.cast_rays(rays)
        hits = result["t_hit"].numpy()
        ids = result["primitive_ids"].numpy().astype(np.int64)
        missed = ~np.isfinite(hits)
        ids[missed] = -1
        return np.where(missed, np.nan, hits).astype(np.float32), ids


def mesh_point_cloud(mesh: o3d.geometry.TriangleMesh) -> o3d.geometry.PointCloud:
    """The mesh's vertices as a coloured point cloud with normals."""
    cloud = o3d.geometry.PointCloud(mesh.vertices)
    cloud.colors = mesh.vertex_colors
    cloud.normals = mesh.vertex_normals
    return cloud


def render_mesh_depth(
    mesh: o3d.geometry.TriangleMesh, K: NDArray[np.float64], size: tuple[int, int], T_world_camera: NDArray[np.float64]
) -> NDArray[np.float32]:
    """Depth (H, W) in metres of ``mesh`` seen by a pinhole camera, NaN where missed (one-off use)."""
    return MeshRaycaster(mesh).cast(K, size, T_world_camera)[0]


def cull_unseen(
    mesh: o3d.geometry.TriangleMesh,
    K: NDArray[np.float64],
    size: tuple[int, int],
    poses: list[NDArray[np.float64]],
    *,
    min_views: int = 1,
) -> o3d.geometry.TriangleMesh:
    """A copy of ``mesh`` without the triangles that fewer than ``min_views`` cameras see first."""
    raycaster = MeshRaycaster(mesh)
    views = np.zeros(len(mesh.triangles), np.int32)
    for T_world_camera in poses:
        _, ids = raycaster.cast(K, size, T_world_camera)
        seen = np.unique(ids[ids >= 0])
        views[seen] += 1
    culled = o3d.geometry.TriangleMesh(mesh)
    culled.remove_triangles_by_mask(views < min_views)
    culled.remove_unreferenced_vertices()
    return culled
