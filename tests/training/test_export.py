"""Exports of a trained model: depth/colour images, point clouds, marching-cubes meshes, pose reports."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import open3d as o3d
import pytest

from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.export import (
    cloud_from_renders,
    cloud_from_sdf,
    extract_mesh,
    pose_report,
    seen_by_keyframes,
    write_cloud,
    write_mesh,
    write_pose_report,
    write_view,
)
from stereo_nerf_core.training.trainer import Trainer
from tests.training.scenes import PLANE_Z_M, plane_keyframe, pose, small_config, texture


def _trained(mode: str) -> Trainer:
    trainer = Trainer(small_config(mode=mode), device="cpu")
    for index in range(6):
        trainer.add_keyframe(plane_keyframe(index))
    trainer.train(max_steps=150)
    return trainer


@pytest.fixture(scope="module")
def nerf() -> Trainer:
    return _trained("nerf")


@pytest.fixture(scope="module")
def sdf() -> Trainer:
    return _trained("sdf")


def test_rendered_views_are_written_as_depth_and_colour_pngs(nerf: Trainer, tmp_path: Path) -> None:
    view = nerf.render_keyframe(plane_keyframe(2))
    depth_path, rgb_path = write_view(view, tmp_path, "kf2")
    depth = cv2.imread(str(depth_path), cv2.IMREAD_UNCHANGED)
    assert depth is not None
    assert depth.dtype == np.uint16 and depth.shape == (40, 48)
    assert np.median(depth) == pytest.approx(80, abs=1)  # millimetres
    colour = cv2.imread(str(rgb_path))
    assert colour is not None and colour.shape == (40, 48, 3)


def test_point_cloud_of_rendered_keyframe_depths_lies_on_the_plane(nerf: Trainer, tmp_path: Path) -> None:
    cloud = cloud_from_renders(nerf, [plane_keyframe(1), plane_keyframe(4)], min_opacity=0.5)
    points = np.asarray(cloud.points)
    assert len(points) > 1000 and cloud.has_colors()
    assert np.median(np.abs(points[:, 2] - PLANE_Z_M)) < 0.001
    assert len(o3d.io.read_point_cloud(str(write_cloud(cloud, tmp_path / "cloud.ply"))).points) == len(points)


def test_nerf_mesh_at_the_density_level_has_the_plane_and_its_colours(nerf: Trainer, tmp_path: Path) -> None:
    mesh = extract_mesh(nerf, resolution=48)
    vertices = np.asarray(mesh.vertices)
    colours = np.asarray(mesh.vertex_colors)
    assert len(vertices) > 500 and len(colours) == len(vertices)
    # a density level set is a shell around the surface: its side facing the cameras lies on the plane
    normals = np.asarray(mesh.vertex_normals)
    centre = (np.linalg.norm(vertices[:, :2], axis=1) < 0.02) & (normals[:, 2] < -0.5)
    assert centre.sum() > 100 and np.median(np.abs(vertices[centre, 2] - PLANE_Z_M)) < 0.0015
    truth = texture(vertices[centre, 0], vertices[centre, 1])
    correlation = np.corrcoef(colours[centre].ravel(), truth.ravel())[0, 1]
    print(f"NeRF mesh: vertex colour vs texture correlation {correlation:.2f}")
    assert correlation > 0.3  # measured 0.50 after 150 steps (the field's colour is still coarse)
    read = o3d.io.read_triangle_mesh(str(write_mesh(mesh, tmp_path / "mesh.ply")))
    assert len(read.vertices) == len(vertices) and read.has_vertex_colors()


def test_sdf_mesh_and_zero_level_cloud(sdf: Trainer) -> None:
    mesh = extract_mesh(sdf, resolution=48)
    vertices = np.asarray(mesh.vertices)
    centre = np.linalg.norm(vertices[:, :2], axis=1) < 0.02
    assert centre.sum() > 100 and np.median(np.abs(vertices[centre, 2] - PLANE_Z_M)) < 0.001
    normals = np.asarray(mesh.vertex_normals)[centre]
    assert np.median(normals[:, 2]) < -0.9  # facing the cameras (free space is at z < 8 cm)
    colours = np.asarray(mesh.vertex_colors)
    assert len(colours) == len(vertices) and colours.min() >= 0.0 and colours.max() <= 1.0
    cloud = cloud_from_sdf(sdf, resolution=48)
    points = np.asarray(cloud.points)
    assert len(points) > 100 and np.median(np.abs(points[:, 2] - PLANE_Z_M)) < 0.001


def test_pose_report_and_unbuilt_models(nerf: Trainer, tmp_path: Path) -> None:
    truth = {index: pose(index) for index in range(6)}
    report = pose_report(nerf, truth)
    assert sorted(report) == list(range(6))
    assert report[3]["translation_error_m"] == pytest.approx(0.0, abs=1e-12)  # no pose refinement here
    written = json.loads(write_pose_report(report, tmp_path / "poses.json").read_text())
    np.testing.assert_allclose(written["3"]["T_world_camera"], truth[3])
    with pytest.raises(TrainingError, match="not built yet"):
        extract_mesh(Trainer(small_config(), device="cpu"))
    with pytest.raises(TrainingError, match="needs an sdf-mode trainer"):
        cloud_from_sdf(nerf)


def test_only_the_part_the_keyframes_see_is_kept(sdf: Trainer) -> None:
    mesh = extract_mesh(sdf, resolution=48)
    hidden = o3d.geometry.TriangleMesh.create_box(0.01, 0.01, 0.01).translate([0.0, 0.0, PLANE_Z_M + 0.02])
    combined = mesh + hidden  # a box 2 cm behind the plane, which no keyframe can see
    kept = seen_by_keyframes(combined, sdf)
    assert len(kept.triangles) <= len(mesh.triangles)
    assert np.asarray(kept.vertices)[:, 2].max() < PLANE_Z_M + 0.005
    assert len(kept.triangles) > 0.5 * len(mesh.triangles)
