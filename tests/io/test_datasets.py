"""Readers of the shared real data: SCARED d5k1 (structured-light truth) and KITTI 000005."""

from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.geometry.camera import PinholeCamera
from stereo_nerf_core.io.datasets import load_kitti_pair, load_scared_keyframe, range_to_z
from stereo_nerf_core.io.errors import DatasetError
from tests.conftest import SHARED_DATA

D5K1 = SHARED_DATA / "scared_d5k1_raw_gtdepth"
KITTI = SHARED_DATA / "kitti2015_stereo_samples" / "000005_10_with_calib"
needs_data = pytest.mark.skipif(not D5K1.exists(), reason=f"shared data {SHARED_DATA} is not beside this checkout")


def test_range_becomes_z_along_the_undistorted_ray() -> None:
    camera = PinholeCamera(3, 1, np.array([[1.0, 0, 1], [0, 1, 0], [0, 0, 1]]))
    # pixel 0 looks along (-1, 0, 1): range sqrt(2) -> Z 1; pixel 1 along the axis: Z = range
    z = range_to_z(np.array([[np.sqrt(2.0), 0.5, 0.0]]), camera)
    np.testing.assert_allclose(z[0, :2], [1.0, 0.5], rtol=1e-6)
    assert np.isnan(z[0, 2])


@needs_data
def test_scared_d5k1_ground_truth_matches_its_readme() -> None:
    sample = load_scared_keyframe(
        D5K1 / "left_51.png",
        D5K1 / "right_51.png",
        D5K1 / "calib_4_1_fixed.json",
        left_range_map=D5K1 / "left_depthmap_51.png",
    )
    assert sample.ground_truth_depth is not None
    valid = np.isfinite(sample.ground_truth_depth)
    assert valid.mean() == pytest.approx(0.554, abs=0.002)  # README: valid 55.4 %
    assert np.median(sample.ground_truth_depth[valid]) == pytest.approx(0.0590, abs=0.0002)  # README: Z median 59.0 mm
    assert sample.calibration.baseline_m == pytest.approx(np.linalg.norm([3.32056, 0.33963, 0.21955]) / 1000, rel=1e-5)


@needs_data
def test_kitti_pair_geometry() -> None:
    sample = load_kitti_pair(
        KITTI / "stereo_left.png", KITTI / "stereo_right.png", KITTI / "Calib.txt", KITTI / "gt_disparity.png"
    )
    assert sample.calibration.fx == pytest.approx(721.5377)
    assert sample.calibration.baseline_m == pytest.approx(0.5327, abs=1e-4)  # README: (44.857 + 339.524) / 721.538
    assert (sample.ground_truth_disparity > 0).mean() == pytest.approx(0.196, abs=0.001)


@needs_data
def test_mismatched_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="do not match the calibration's image size"):
        load_scared_keyframe(KITTI / "stereo_left.png", KITTI / "stereo_right.png", D5K1 / "calib_4_1_fixed.json")
    with pytest.raises(DatasetError, match="not a readable image"):
        load_scared_keyframe(tmp_path / "none.png", tmp_path / "none.png", D5K1 / "calib_4_1_fixed.json")
