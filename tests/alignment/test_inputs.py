"""Rotations, rigid checks, mesh loading / decimation, views and their errors (all fast)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
import torch

from stereo_nerf_core.alignment import (
    AlignmentConfig,
    AlignmentError,
    AlignmentView,
    Mesh,
    check_rigid,
    crop_to_mask,
    decimate,
    load_mesh,
    pose_errors,
    scale_view,
)
from stereo_nerf_core.alignment.pose import fibonacci_directions, viewing_rotations
from stereo_nerf_core.alignment.synthetic import render_masks
from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.geometry import make_se3, rotation_about_axis
from stereo_nerf_core.geometry.lie import so3_exp
from tests.alignment.alignment_helpers import intrinsics, make_case


def test_axis_angle_matches_rodrigues_and_is_smooth_at_zero() -> None:
    w = np.array([0.3, -0.5, 0.8])
    R = so3_exp(torch.tensor(w, dtype=torch.float64)).numpy()
    assert np.allclose(R, rotation_about_axis(w, float(np.linalg.norm(w))), atol=1e-12)
    zero = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    so3_exp(zero)[0, 1].backward()
    assert zero.grad is not None and torch.allclose(zero.grad, torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64))


def test_viewing_rotations_look_at_the_object_from_each_direction() -> None:
    directions = fibonacci_directions(50)
    assert np.allclose(np.linalg.norm(directions, axis=1), 1.0)
    rotations = viewing_rotations(directions, 4)
    assert rotations.shape == (200, 3, 3)
    assert np.allclose(np.linalg.det(rotations), 1.0)
    assert np.allclose(rotations @ np.transpose(rotations, (0, 2, 1)), np.eye(3), atol=1e-12)
    # The camera's optical axis (third row, in object coordinates) points from the camera to the object.
    assert np.allclose(rotations[::4, 2], -directions)


def test_check_rigid_and_pose_errors() -> None:
    T = make_se3(rotation_about_axis([0, 0, 1], 0.3), [0.0, 0.0, 0.1])
    assert check_rigid(T, "T") is not None
    scaled = T.copy()
    scaled[:3, :3] *= 1.1
    with pytest.raises(AlignmentError, match=r"relative pose .* is not a rigid transform"):
        check_rigid(scaled, "relative pose (file.txt)")
    with pytest.raises(AlignmentError, match="4x4"):
        check_rigid(np.eye(3), "T")
    moved = make_se3(rotation_about_axis([1, 0, 0], np.radians(10)) @ T[:3, :3], [0.0, 0.002, 0.1])
    rotation, translation = pose_errors(moved, T)
    assert rotation == pytest.approx(10.0) and translation == pytest.approx(0.02)


def _write_mesh(path: Path, mesh: o3d.geometry.TriangleMesh) -> Path:
    assert o3d.io.write_triangle_mesh(str(path), mesh)
    return path


def test_load_mesh_decimates_large_meshes(tmp_path: Path) -> None:
    sphere = o3d.geometry.TriangleMesh.create_sphere(0.02, 30)  # 1740 triangles
    mesh = load_mesh(_write_mesh(tmp_path / "sphere.obj", sphere), max_triangles=400)
    assert 300 <= mesh.faces.shape[0] <= 400
    assert mesh.radius == pytest.approx(0.02, rel=0.05)


def test_mesh_too_large_after_decimation_states_the_limit(mesh: Mesh) -> None:
    with pytest.raises(AlignmentError, match=r"352 triangles .* the limit is 200"):
        decimate(mesh, max_triangles=1000, triangle_limit=200)


def test_mesh_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(AlignmentError, match=r"mesh file .*missing\.ply does not exist"):
        load_mesh(tmp_path / "missing.ply")
    garbage = tmp_path / "garbage.ply"
    garbage.write_bytes(b"not a ply file at all\x00\x01")
    with pytest.raises(AlignmentError, match=r"garbage\.ply (has no triangles|is unreadable)"):
        load_mesh(garbage)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.random.default_rng(0).normal(size=(20, 3))))
    assert o3d.io.write_point_cloud(str(tmp_path / "cloud.ply"), cloud)
    with pytest.raises(AlignmentError, match=r"cloud\.ply has no triangles .*point cloud"):
        load_mesh(tmp_path / "cloud.ply")
    (tmp_path / "mesh.stl").write_text("solid x\nendsolid x\n")
    with pytest.raises(AlignmentError, match=r"must be one of \.ply, \.obj"):
        load_mesh(tmp_path / "mesh.stl")


def test_view_errors_name_the_view() -> None:
    K = intrinsics(32)
    mask = np.zeros((32, 32), bool)
    with pytest.raises(AlignmentError, match=r"mask of left\.png is empty"):
        AlignmentView(mask, K, 32, 32, name="left.png")
    mask[10:20, 10:20] = True
    with pytest.raises(AlignmentError, match=r"mask of right\.png is 32x32 but its intrinsics are for 40x30"):
        AlignmentView(mask, K, 40, 30, name="right.png")
    bent = np.eye(4)
    bent[0, 1] = 0.3
    with pytest.raises(AlignmentError, match=r"relative pose of right\.png is not a rigid transform"):
        AlignmentView(mask, K, 32, 32, bent, name="right.png")
    with pytest.raises(StereoNerfError, match="fx, fy > 0"):
        AlignmentView(mask, np.diag([0.0, 1.0, 1.0]), 32, 32)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(AlignmentError, match="iterations must be > 0"):
        AlignmentConfig(iterations=0)
    with pytest.raises(AlignmentError, match="rasterizer"):
        AlignmentConfig(rasterizer="other")  # type: ignore[arg-type]


def test_scaled_view_keeps_pixel_centres_consistent(mesh: Mesh) -> None:
    case = make_case(mesh, size=128)
    scaled = scale_view(case.view(), 64)
    assert (scaled.width, scaled.height) == (64, 64)
    direct = render_masks(mesh, case.T_true, scaled.K, 64, 64)
    downsampled = scaled.target > 0.5
    assert (direct != downsampled).sum() < 0.05 * direct.sum()
    assert np.allclose(scaled.K, intrinsics(64))


def test_crop_to_mask_moves_the_principal_point(mesh: Mesh) -> None:
    case = make_case(mesh, size=128)
    T_far = case.T_true.copy()
    T_far[2, 3] += 0.1  # small in the image
    full = render_masks(mesh, T_far, case.K, 128, 128)
    cropped = crop_to_mask(AlignmentView(full, case.K, 128, 128), 0.5)
    assert cropped.width < 80 and cropped.height == cropped.width
    assert np.array_equal(render_masks(mesh, T_far, cropped.K, cropped.width, cropped.height), cropped.mask)
    assert cropped.mask.sum() == full.sum()
    assert crop_to_mask(AlignmentView(full, case.K, 128, 128), 10.0).width == 128
