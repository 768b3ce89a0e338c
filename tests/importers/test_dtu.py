"""The DTU importer on the shared MonoSDF scan 24: topics, counts, intrinsics and poses of its README."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.geometry.transforms import invert_se3
from stereo_nerf_core.importers.dtu import load_dtu
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.writer import ImportOptions, ImportSummary, write_recording
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import bag_topics
from stereo_nerf_core.io.messages import image_to_array, transform_to_matrix
from tests.conftest import SHARED_DATA
from tests.importers.helpers import custom_data, messages_by_topic

DTU = SHARED_DATA / "dtu_scan24_monosdf_384"
needs_dtu = pytest.mark.skipif(not DTU.exists(), reason=f"shared data {DTU} is not beside this checkout")
CENTRE_MM = np.array([43.39, -18.59, 613.81])  # README: centre of scale_mat (object region)


@pytest.fixture(scope="module")
def dtu_bag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ImportSummary]:
    bag = tmp_path_factory.mktemp("dtu") / "scan24"
    return bag, write_recording(load_dtu(DTU), bag, ImportOptions(progress=False, compression="zstd"))


def _pixel(K: np.ndarray, T_world_camera: np.ndarray, point: np.ndarray) -> np.ndarray:
    camera = (invert_se3(T_world_camera) @ np.append(point, 1.0))[:3]
    return (K @ camera)[:2] / camera[2]


@needs_dtu
def test_dtu_scan_becomes_a_left_only_bag_with_poses(dtu_bag: tuple[Path, ImportSummary]) -> None:
    bag, summary = dtu_bag
    counts = {topic: item.count for topic, item in bag_topics(bag).items()}
    assert counts == dict.fromkeys((topics.LEFT_IMAGE, topics.LEFT_CAMERA_INFO, topics.TF), 49)
    assert (summary.frames, summary.width, summary.height) == (49, 384, 384)
    data = custom_data(bag)
    assert data["stereo_nerf.dtu.world"] == "metric" and "calibrated DTU cameras" in data["stereo_nerf.pose_source"]
    image = messages_by_topic(bag)[topics.LEFT_IMAGE][0].msg
    assert image.encoding == "rgb8" and image_to_array(image).shape == (384, 384, 3)


@needs_dtu
def test_view_0_matches_the_readme(dtu_bag: tuple[Path, ImportSummary]) -> None:
    messages = messages_by_topic(dtu_bag[0])
    info = messages[topics.LEFT_CAMERA_INFO][0].msg
    K = np.reshape(info.k, (3, 3))
    # README: view 0 at 384 px: fx=925.55 fy=922.62 cx=199.43 cy=198.10
    np.testing.assert_allclose([K[0, 0], K[1, 1], K[0, 2], K[1, 2]], [925.55, 922.62, 199.43, 198.10], atol=0.01)
    np.testing.assert_allclose(np.reshape(info.p, (3, 4))[:, :3], K)
    assert not np.any(info.d) and (info.width, info.height) == (384, 384)
    T = transform_to_matrix(messages[topics.TF][0].msg.transforms[0].transform)
    world_mat = np.load(DTU / "cameras.npz")["world_mat_0"]
    for point_mm in (CENTRE_MM, CENTRE_MM + np.array([100.0, -50.0, 30.0])):
        u, v, w = world_mat[:3, :4] @ np.append(point_mm, 1.0)
        expected = np.array([(u / w - 200.0) * 384 / 1200, v / w * 384 / 1200])  # centre crop, then resize
        np.testing.assert_allclose(_pixel(K, T, point_mm / 1000.0), expected, atol=1e-6)
    assert 0.4 < np.linalg.norm(T[:3, 3] - CENTRE_MM / 1000.0) < 0.8  # DTU cameras sit ~0.5-0.6 m away
    stamps = [message.log_time_ns for message in messages[topics.LEFT_CAMERA_INFO]]
    assert np.all(np.diff(stamps) == 100_000_000)  # 10 Hz


@needs_dtu
def test_normalised_world_puts_the_object_at_the_origin(tmp_path: Path) -> None:
    metric, normalised = load_dtu(DTU).load(5), load_dtu(DTU, world="normalised").load(5)
    assert metric.left_view is not None and normalised.left_view is not None
    assert metric.T_world_left is not None and normalised.T_world_left is not None
    np.testing.assert_allclose(normalised.left_view.camera.K, metric.left_view.camera.K, rtol=1e-9, atol=1e-9)
    at_origin = _pixel(normalised.left_view.camera.K, normalised.T_world_left, np.zeros(3))
    at_centre = _pixel(metric.left_view.camera.K, metric.T_world_left, CENTRE_MM / 1000.0)
    np.testing.assert_allclose(at_origin, at_centre, atol=0.05)  # README centre is rounded to 0.01 mm


def test_dtu_folder_without_cameras_is_named(tmp_path: Path) -> None:
    (tmp_path / "scan").mkdir()
    with pytest.raises(ImporterError, match=r"scan/cameras\.npz: no such file"):
        load_dtu(tmp_path / "scan")
