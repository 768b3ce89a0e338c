"""DTU scan24 (MonoSDF/IDR format) reader: intrinsics of the 384 crop, poses in the unit-sphere world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.datasets.dtu import DtuScene, crop_intrinsics, load_dtu_scan
from stereo_nerf_core.geometry.camera import decompose_projection
from stereo_nerf_core.io.errors import DatasetError
from tests.conftest import SHARED_DATA

DTU = SHARED_DATA / "dtu_scan24_monosdf_384"
needs_data = pytest.mark.skipif(not DTU.exists(), reason=f"shared data {SHARED_DATA} is not beside this checkout")


@pytest.fixture(scope="module")
def scene() -> DtuScene:
    return load_dtu_scan(DTU)


def test_projection_decomposition_round_trips() -> None:
    K = np.array([[900.0, 0.0, 810.0], [0.0, 905.0, 600.0], [0.0, 0.0, 1.0]])
    angle = 0.3
    R = np.array([[np.cos(angle), 0.0, np.sin(angle)], [0.0, 1.0, 0.0], [-np.sin(angle), 0.0, np.cos(angle)]])
    centre = np.array([0.5, -0.2, -2.5])
    P = K @ np.hstack([R, (-R @ centre)[:, None]])
    K_out, T = decompose_projection(5.0 * P)  # any scale
    np.testing.assert_allclose(K_out, K, atol=1e-6)
    np.testing.assert_allclose(T[:3, :3], R.T, atol=1e-9)
    np.testing.assert_allclose(T[:3, 3], centre, atol=1e-9)
    np.testing.assert_allclose(crop_intrinsics(K, 384)[0], [288.0, 0.0, (810 - 200) * 0.32])


@needs_data
def test_view_0_intrinsics_match_the_readme(scene: DtuScene) -> None:
    K = scene.views[0].K
    assert K[0, 0] == pytest.approx(925.55, abs=0.01) and K[1, 1] == pytest.approx(922.62, abs=0.01)
    assert K[0, 2] == pytest.approx(199.43, abs=0.01) and K[1, 2] == pytest.approx(198.10, abs=0.01)
    assert len(scene.views) == 49 and scene.views[0].rgb.shape == (384, 384, 3)
    assert scene.scale_mat[0, 0] == pytest.approx(223.3332, abs=1e-3)


@needs_data
def test_cameras_sit_outside_the_unit_sphere_looking_at_its_centre(scene: DtuScene) -> None:
    for view in scene.views:
        T = view.T_world_camera
        np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6)
        assert np.linalg.det(T[:3, :3]) == pytest.approx(1.0, abs=1e-6)
        centre, forward = T[:3, 3], T[:3, 2]
        assert np.linalg.norm(centre) > 1.5
        assert forward @ (-centre / np.linalg.norm(centre)) > 0.99  # +z (optical axis) towards the origin
        # the origin projects near the image centre
        local = np.linalg.inv(T) @ np.array([0.0, 0.0, 0.0, 1.0])
        u, v = (view.K @ local[:3])[:2] / local[2]
        assert 0 < u < 384 and 0 < v < 384


@needs_data
def test_hold_out_every_8th_view_and_resample(scene: DtuScene) -> None:
    train, held = scene.split(hold_out_every=8)
    assert [view.index for view in held] == [0, 8, 16, 24, 32, 40, 48] and len(train) == 42
    small = load_dtu_scan(DTU, size=192)
    K, K_full = small.views[0].K, scene.views[0].K
    assert small.views[0].rgb.shape == (192, 192, 3)
    np.testing.assert_allclose(K[0, 0], K_full[0, 0] / 2)
    np.testing.assert_allclose(K[:2, 2], (K_full[:2, 2] + 0.5) / 2 - 0.5)
    np.testing.assert_array_equal(small.views[3].T_world_camera, scene.views[3].T_world_camera)
    with pytest.raises(DatasetError, match="hold_out_every must be >= 2"):
        scene.split(hold_out_every=1)


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"cameras\.npz: not found"):
        load_dtu_scan(tmp_path)
    np.savez(tmp_path / "cameras.npz", world_mat_0=np.eye(4))
    with pytest.raises(DatasetError, match=r"no NNNNNN_rgb\.png views"):
        load_dtu_scan(tmp_path)
