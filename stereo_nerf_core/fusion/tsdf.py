"""TSDF fusion of metric depth maps with known camera poses (open3d ScalableTSDFVolume)."""

from __future__ import annotations

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.config import FusionConfig
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.transforms import invert_se3


class TsdfFusion:
    """Integrates (depth, colour, pose) frames of one pinhole camera into a coloured TSDF volume."""

    def __init__(self, config: FusionConfig, K: NDArray[np.float64], size: tuple[int, int]) -> None:
        self.config = config
        self.size = size
        self.intrinsic = o3d.camera.PinholeCameraIntrinsic(
            int(size[0]), int(size[1]), float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
        )
        self.volume = o3d.pipelines.integration.ScalableTSDFVolume(
            voxel_length=config.voxel_size_m,
            sdf_trunc=config.sdf_trunc_m,
            color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8,
        )
        self.frames = 0

    def integrate(
        self, rgb: NDArray[np.uint8], depth: NDArray[np.float32], T_world_camera: NDArray[np.float64]
    ) -> None:
        """Fuse one frame: RGB (H, W, 3) uint8, depth (H, W) metres (0 or NaN = none), camera pose (4, 4)."""
        expected = (self.size[1], self.size[0])
        if depth.shape != expected or rgb.shape[:2] != expected:
            raise GeometryError(f"fusion expects images {expected}, got depth {depth.shape} and rgb {rgb.shape}")
        clean = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)
        frame = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray(rgb)),
            o3d.geometry.Image(clean),
            depth_scale=1.0,
            depth_trunc=self.config.max_depth_m,
            convert_rgb_to_intensity=False,
        )
        self.volume.integrate(frame, self.intrinsic, invert_se3(T_world_camera))
        self.frames += 1

    def mesh(self) -> o3d.geometry.TriangleMesh:
        """Marching-cubes mesh of the zero level with vertex colours (empty before any frame)."""
        mesh = self.volume.extract_triangle_mesh()
        mesh.compute_vertex_normals()
        return mesh

    def point_cloud(self) -> o3d.geometry.PointCloud:
        """Coloured points on the zero level."""
        return self.volume.extract_point_cloud()


def render_mesh_depth(
    mesh: o3d.geometry.TriangleMesh, K: NDArray[np.float64], size: tuple[int, int], T_world_camera: NDArray[np.float64]
) -> NDArray[np.float32]:
    """Depth (H, W) in metres of ``mesh`` seen by a pinhole camera (Z along its axis), NaN where missed."""
    width, height = size
    if len(mesh.triangles) == 0:
        return np.full((height, width), np.nan, np.float32)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(mesh))
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    directions_camera = np.stack(
        [(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=2
    )  # z = 1, so the hit distance along it is Z
    R, t = T_world_camera[:3, :3], T_world_camera[:3, 3]
    directions = directions_camera @ R.T
    origins = np.broadcast_to(t, directions.shape)
    rays = o3d.core.Tensor(np.concatenate([origins, directions], axis=2).astype(np.float32))
    hits = scene.cast_rays(rays)["t_hit"].numpy()
    return np.where(np.isfinite(hits), hits, np.nan).astype(np.float32)
