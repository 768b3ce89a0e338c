import numpy as np
import open3d as o3d
import pytest

from stereo_nerf_core.config import FusionConfig
from stereo_nerf_core.fusion.tsdf import TsdfFusion, cull_unseen, render_mesh_depth
from stereo_nerf_core.geometry import GeometryError, make_se3, rotation_about_axis
from stereo_nerf_core.geometry.depth_maps import backproject
from stereo_nerf_core.geometry.transforms import invert_se3

K = np.array([[120.0, 0, 63.5], [0, 120.0, 47.5], [0, 0, 1]])
SIZE = (128, 96)


def _plane_depth(T_world_camera: np.ndarray, plane_z: float) -> np.ndarray:
    """Depth of the world plane z = plane_z seen from a camera (rays hit it at t where origin_z + t d_z = plane_z)."""
    rays = backproject(np.ones((SIZE[1], SIZE[0]), np.float32), K).astype(np.float64)
    directions = rays @ T_world_camera[:3, :3].T
    t = (plane_z - T_world_camera[2, 3]) / directions[:, :, 2]
    return np.where(t > 0, t, 0).astype(np.float32)


def test_fused_plane_lies_on_the_true_plane_and_renders_back() -> None:
    config = FusionConfig(voxel_size_m=0.0005, sdf_trunc_m=0.002, max_depth_m=0.2, min_weight=2.0, device="CPU:0")
    fusion = TsdfFusion(config, K, SIZE)
    poses = [
        make_se3(rotation_about_axis([0, 1, 0], angle), [x, 0.0, 0.0])
        for angle, x in [(0.0, 0.0), (0.08, -0.004), (-0.08, 0.004)]
    ]
    colour = np.full((SIZE[1], SIZE[0], 3), 180, np.uint8)
    for T in poses[:1]:
        assert fusion.integrate(colour, _plane_depth(T, 0.08), T)
    assert len(fusion.mesh().vertices) == 0  # one observation is below min_weight = 2
    for T in poses[1:]:
        assert fusion.integrate(colour, _plane_depth(T, 0.08), T)
    mesh = fusion.mesh()
    vertices = np.asarray(mesh.vertices)
    assert len(vertices) > 1000
    # every vertex within a fraction of a voxel of the plane z = 0.08 m
    assert np.median(np.abs(vertices[:, 2] - 0.08)) < 0.0001
    assert np.asarray(mesh.vertex_colors).mean() == pytest.approx(180 / 255, abs=0.02)
    rendered = render_mesh_depth(mesh, K, SIZE, poses[0])
    hit = np.isfinite(rendered)
    assert hit.mean() > 0.8
    np.testing.assert_allclose(rendered[hit], 0.08, atol=0.0003)


def test_nan_depth_is_ignored_and_wrong_sizes_are_named() -> None:
    fusion = TsdfFusion(FusionConfig(), K, SIZE)
    depth = np.full((SIZE[1], SIZE[0]), np.nan, np.float32)
    assert not fusion.integrate(np.zeros((SIZE[1], SIZE[0], 3), np.uint8), depth, invert_se3(np.eye(4)))
    assert fusion.frames == 0 and len(fusion.mesh().vertices) == 0
    assert np.isnan(render_mesh_depth(fusion.mesh(), K, SIZE, np.eye(4))).all()
    with pytest.raises(GeometryError, match=r"fusion expects images \(96, 128\)"):
        fusion.integrate(np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32), np.eye(4))


def test_culling_removes_a_surface_no_camera_sees() -> None:
    fusion = TsdfFusion(FusionConfig(min_weight=1.0, cull_min_views=0, device="CPU:0"), K, SIZE)
    T = np.eye(4)
    fusion.integrate(np.full((SIZE[1], SIZE[0], 3), 128, np.uint8), _plane_depth(T, 0.08), T)
    front = fusion.mesh()
    # a second sheet 5 mm behind the first one, hidden from the camera
    hidden = o3d.geometry.TriangleMesh(front).translate([0, 0, 0.005])
    both = front + hidden
    culled = cull_unseen(both, K, SIZE, [T], min_views=1)
    z = np.asarray(culled.vertices)[:, 2]
    assert len(both.triangles) == 2 * len(front.triangles)
    assert len(culled.triangles) <= len(front.triangles) and np.all(np.abs(z - 0.08) < 0.001)
