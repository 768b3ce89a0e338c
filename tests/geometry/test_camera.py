import numpy as np
import pytest

from stereo_nerf_core.geometry import GeometryError, PinholeCamera, StereoCalibration
from stereo_nerf_core.geometry.depth_maps import backproject, rectify_left_depth


def test_scaling_scared_intrinsics_to_quarter_resolution() -> None:
    camera = PinholeCamera(1280, 1024, np.array([[1035.0, 0, 639.5], [0, 1035.0, 511.5], [0, 0, 1]]))
    small = camera.scaled(320, 256)
    # pixel-centre convention: (c + 0.5) * s - 0.5
    np.testing.assert_allclose(small.K, np.array([[258.75, 0, 159.5], [0, 258.75, 127.5], [0, 0, 1]]))


def test_rectified_rig_has_the_physical_baseline_and_row_aligned_epipolar_lines(small_rig: StereoCalibration) -> None:
    assert small_rig.baseline_m == pytest.approx(np.hypot(0.0041, 0.00005), rel=1e-9)
    assert small_rig.disparity_offset == pytest.approx(0.0, abs=1e-9)
    # a 3-D point seen by both raw cameras lands on the same rectified row
    point_left = np.array([0.004, -0.003, 0.07])
    R = small_rig.right.R.T @ small_rig.left.R  # raw-right from raw-left, via the rectified frames
    t_rect = np.array([-small_rig.baseline_m, 0, 0])
    point_right = R @ point_left + small_rig.right.R.T @ t_rect
    u_l = small_rig.left.P @ np.append(small_rig.left.R @ point_left, 1)
    u_r = small_rig.right.P[:, :3] @ (small_rig.right.R @ point_right)
    row_l, row_r = u_l[1] / u_l[2], u_r[1] / u_r[2]
    assert row_l == pytest.approx(row_r, abs=1e-6)
    disparity = u_l[0] / u_l[2] - u_r[0] / u_r[2]
    z_rect = (small_rig.left.R @ point_left)[2]
    assert small_rig.depth_from_disparity(np.array([[disparity]]))[0, 0] == pytest.approx(z_rect, rel=1e-5)


def test_depth_disparity_round_trip(small_rig: StereoCalibration) -> None:
    depth = np.array([[0.04, 0.1], [0.15, 0.0]], dtype=np.float32)
    disparity = small_rig.disparity_from_depth(depth)
    # fx * B / Z with fx ~ 129 px, B = 4.1 mm: 0.1 m -> about 5.3 px
    assert disparity[0, 1] == pytest.approx(small_rig.fx * small_rig.baseline_m / 0.1, rel=1e-5)
    np.testing.assert_allclose(small_rig.depth_from_disparity(disparity), depth, rtol=1e-5)


def test_rectify_left_depth_of_a_fronto_parallel_plane(small_rig: StereoCalibration) -> None:
    # raw-left plane Z = 0.08; in the rectified frame the plane is tilted by R, so compare with the exact plane
    depth_raw = np.full((128, 160), 0.08, np.float32)
    rectified = rectify_left_depth(small_rig, depth_raw)
    points = backproject(np.nan_to_num(rectified), small_rig.K_rect)
    normal_rect = small_rig.left.R @ np.array([0, 0, 1.0])
    distance = points[np.isfinite(rectified)] @ normal_rect
    assert np.isfinite(rectified).mean() > 0.9
    np.testing.assert_allclose(distance, 0.08, rtol=2e-4)


def test_bad_cameras_raise_clear_errors(small_rig: StereoCalibration) -> None:
    with pytest.raises(GeometryError, match="positive"):
        PinholeCamera(0, 10, np.eye(3))
    with pytest.raises(GeometryError, match="zero baseline"):
        camera = PinholeCamera(16, 16, np.array([[20.0, 0, 8], [0, 20, 8], [0, 0, 1]]))
        StereoCalibration.from_rig(camera, camera, np.eye(3), np.zeros(3))
    with pytest.raises(GeometryError, match="calibration expects 160x128"):
        small_rig.rectify(np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10, 3), np.uint8))
