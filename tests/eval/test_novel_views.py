"""Novel-view renderers and image scores against hand-computed answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open3d as o3d
import pytest

from stereo_nerf_core.eval.novel_views import ColouredMeshRaycaster, ViewScores, forward_warp, load_lpips, ssim

K = np.array([[100.0, 0.0, 15.5], [0.0, 100.0, 11.5], [0.0, 0.0, 1.0]])
SIZE = (32, 24)


def _pose(x: float = 0.0) -> np.ndarray:
    pose = np.eye(4)
    pose[0, 3] = x
    return pose


def _gradient_image() -> np.ndarray:
    u = np.arange(SIZE[0], dtype=np.uint8) * 7
    image = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    image[..., 0] = u[None, :]
    image[..., 1] = (np.arange(SIZE[1], dtype=np.uint8) * 9)[:, None]
    return image


def test_warp_to_the_same_pose_is_the_image_itself() -> None:
    image = _gradient_image()
    depth = np.full(image.shape[:2], 0.1, np.float32)
    warped, warped_depth = forward_warp(image, depth, K, _pose(), _pose(), SIZE)
    np.testing.assert_allclose(warped_depth, 0.1, rtol=1e-6)
    np.testing.assert_allclose(warped, image / 255.0, atol=1e-6)


def test_a_sideways_step_shifts_a_plane_by_its_disparity() -> None:
    image = _gradient_image()
    depth = np.full(image.shape[:2], 0.1, np.float32)
    # the camera moves 2 mm right: a plane 100 mm away moves fx * 0.002 / 0.1 = 2 px left
    warped, warped_depth = forward_warp(image, depth, K, _pose(), _pose(0.002), SIZE)
    hit = warped_depth > 0
    np.testing.assert_allclose(warped[:, :-2], image[:, 2:] / 255.0, atol=1e-6)
    # nothing projects to the last two columns; the 2x2 splat fills the first as a crack, the last stays black
    assert hit[:, :-1].all() and not hit[:, -1].any() and (warped[:, -1] == 0).all()


def test_the_nearest_surface_wins() -> None:
    image = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    image[:, :16] = (255, 0, 0)  # left half red, 50 mm away
    image[:, 16:] = (0, 0, 255)  # right half blue, 100 mm away
    depth = np.where(np.arange(SIZE[0])[None, :] < 16, 0.05, 0.1) * np.ones((SIZE[1], 1))
    # moving 1 mm left: the near red half moves 2 px right, the far blue half 1 px: red covers the seam
    warped, warped_depth = forward_warp(image, depth, K, _pose(), _pose(-0.001), SIZE)
    assert (warped[:, 16:18] == (1.0, 0.0, 0.0)).all() and np.allclose(warped_depth[:, 16:18], 0.05)
    assert (warped[:, 18:] == (0.0, 0.0, 1.0)).all()


def test_bad_warp_shapes_are_named() -> None:
    with pytest.raises(Exception, match=r"rgb \(H, W, 3\) and depth \(H, W\)"):
        forward_warp(np.zeros((4, 4), np.uint8), np.zeros((4, 4)), K, _pose(), _pose(), (4, 4))


def _plane(z: float, colours: np.ndarray) -> o3d.geometry.TriangleMesh:
    vertices = np.array([[-1.0, -1.0, z], [1.0, -1.0, z], [1.0, 1.0, z], [-1.0, 1.0, z]])
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(np.array([[0, 1, 2], [0, 2, 3]]))
    )
    mesh.vertex_colors = o3d.utility.Vector3dVector(colours)
    return mesh


def test_ray_cast_mesh_depth_and_barycentric_colour() -> None:
    # black on the left edge (x = -1), white on the right (x = +1): colour = (x + 1) / 2
    mesh = _plane(0.2, np.array([[0.0] * 3, [1.0] * 3, [1.0] * 3, [0.0] * 3]))
    depth, rgb = ColouredMeshRaycaster(mesh).cast(K, SIZE, _pose())
    np.testing.assert_allclose(depth, 0.2, rtol=1e-5)
    u = np.arange(SIZE[0])
    expected = ((u - K[0, 2]) / K[0, 0] * 0.2 + 1.0) / 2.0
    np.testing.assert_allclose(rgb[5, :, 1], expected, atol=1e-4)
    missed_depth, missed_rgb = ColouredMeshRaycaster(mesh).cast(K, SIZE, _pose() @ np.diag([1, 1, -1, 1]))
    assert np.isnan(missed_depth).all() and (missed_rgb == 0).all()  # looking away from the plane


def test_view_scores_psnr_and_ssim_known_answers() -> None:
    truth = np.full((24, 32, 3), 0.5, np.float32)
    truth[:, 16:] = 0.25
    scores = ViewScores(None, "no LPIPS in this test")
    regions = {"all": np.ones((24, 32), bool), "no_instruments": np.arange(32)[None, :].repeat(24, 0) < 16}
    psnrs = scores.add("held_out", truth + 0.1, truth, regions)
    assert psnrs["all"] == pytest.approx(20.0)  # MSE 0.01
    scores.add("held_out", truth + 0.01, truth, regions)  # 40 dB
    result = scores.results()["held_out"]
    assert result["all"]["psnr_db"] == pytest.approx(30.0) and result["all"]["frames"] == 2
    assert result["no_instruments"]["lpips"] is None
    assert result["no_instruments"]["lpips_unavailable"] == "no LPIPS in this test"
    assert ssim(truth, truth) == pytest.approx(1.0)
    assert ssim(truth + 0.1, truth) < 1.0


def test_lpips_without_weights_on_disk_is_unavailable_with_a_reason(tmp_path: Path) -> None:
    function, reason = load_lpips(hub_dir=tmp_path)  # an empty hub: no AlexNet weights
    assert function is None
    assert reason is not None and ("cannot import lpips" in reason or "not in the torch hub cache" in reason)
