"""COLMAP reconstructions as the pose source: poses round-trip from pycolmap into the bag's /tf."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.cli import main
from stereo_nerf_core.geometry.transforms import invert_se3, make_se3, rotation_about_axis
from stereo_nerf_core.importers.calibration import RectifiedPair
from stereo_nerf_core.importers.colmap import with_colmap_poses
from stereo_nerf_core.importers.endonerf import load_endonerf
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.studies import load_studies
from stereo_nerf_core.importers.writer import START_STAMP_NS
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.messages import transform_to_matrix
from tests.importers.helpers import FX, HEIGHT, WIDTH, custom_data, messages_by_topic, write_endonerf, write_study

pycolmap = pytest.importorskip("pycolmap")


def known_pose(index: int) -> np.ndarray:
    """T_world_camera of frame ``index``: a few degrees of rotation and centimetres of travel."""
    return make_se3(
        rotation_about_axis([0.2, 1.0, 0.1 * index], np.deg2rad(3.0 + 4 * index)), [0.01 * index, -0.02, 0.3]
    )


def write_reconstruction(folder: Path, names: dict[str, int], *, text: bool = False) -> Path:
    """A reconstruction with one PINHOLE camera and an image per name, posed at ``known_pose(index)``."""
    reconstruction = pycolmap.Reconstruction()
    camera = pycolmap.Camera(model="PINHOLE", width=WIDTH, height=HEIGHT, params=[FX, FX, 80.0, 64.0], camera_id=1)
    reconstruction.add_camera_with_trivial_rig(camera)
    for image_id, (name, index) in enumerate(names.items(), start=1):
        image = pycolmap.Image(name=name, camera_id=1, image_id=image_id)
        cam_from_world = pycolmap.Rigid3d(invert_se3(known_pose(index))[:3, :4])
        reconstruction.add_image_with_trivial_frame(image, cam_from_world)
    folder.mkdir(parents=True)
    if text:
        reconstruction.write_text(str(folder))
    else:
        reconstruction.write(str(folder))
    return folder


def test_colmap_poses_round_trip_into_a_study_bag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_study(tmp_path / "exp", frames=3, depth=False, masks=False)
    # one name as the path inside the study, one as a bare file name; frame 2 is not registered
    sparse = write_reconstruction(tmp_path / "sparse", {"l/images/000000.png": 0, "000001.png": 1})
    bag = tmp_path / "bag"
    rectified = ["--rectified", "--fx", str(FX), "--baseline-m", "0.005"]
    code = main(["import", "studies", str(root), str(bag), *rectified, "--poses-from-colmap", str(sparse), "--quiet"])
    assert code == 0
    assert "poses: COLMAP sparse (2/3 frames; arbitrary scale" in capsys.readouterr().out
    tf = messages_by_topic(bag)[topics.TF]
    assert [message.log_time_ns for message in tf] == [START_STAMP_NS, START_STAMP_NS + 100_000_000]
    for index, message in enumerate(tf):
        transform = message.msg.transforms[0]
        assert (transform.header.frame_id, transform.child_frame_id) == (topics.WORLD_FRAME, topics.LEFT_OPTICAL_FRAME)
        np.testing.assert_allclose(transform_to_matrix(transform.transform), known_pose(index), atol=1e-12)
    data = custom_data(bag)
    assert data["stereo_nerf.colmap"] == str(sparse.resolve())
    assert "the others have no pose" in data["stereo_nerf.notes"]


def test_text_reconstruction_replaces_a_format_s_own_poses(tmp_path: Path) -> None:
    root = write_endonerf(tmp_path / "endo", frames=2)
    names = {f"images/frame-{index:06d}.color.png": index for index in range(2)}
    recording = with_colmap_poses(load_endonerf(root), write_reconstruction(tmp_path / "txt", names, text=True))
    for index in range(2):
        pose = recording.load(index).T_world_left
        assert pose is not None
        np.testing.assert_allclose(pose, known_pose(index), atol=1e-12)
    assert recording.pose_source is not None and recording.pose_source.startswith("COLMAP txt (2/2 frames")


def test_reconstructions_that_match_nothing_or_are_not_one_are_named(tmp_path: Path) -> None:
    recording = load_studies(
        write_study(tmp_path / "exp", frames=2, depth=False, masks=False), rectified=RectifiedPair(FX, 0.005)
    )
    other = write_reconstruction(tmp_path / "other", {"cam0/0001.jpg": 0})
    with pytest.raises(ImporterError, match=r"none of the reconstruction's 1 image names \(cam0/0001\.jpg, \.\.\.\)"):
        with_colmap_poses(recording, other)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImporterError, match="empty: not a readable COLMAP reconstruction"):
        with_colmap_poses(recording, tmp_path / "empty")
