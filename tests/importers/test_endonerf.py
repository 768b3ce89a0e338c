"""The EndoNeRF importer: left-only bag, K from hwf, LLFF poses on /tf, depth prior and tool masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.geometry.transforms import invert_se3
from stereo_nerf_core.importers.endonerf import llff_to_optical, load_endonerf
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.writer import ImportOptions, write_recording
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import bag_topics
from stereo_nerf_core.io.messages import image_to_array, stamp_ns, transform_to_matrix
from stereo_nerf_core.pipeline.splits import held_out_stamps
from tests.importers.helpers import (
    ENDONERF_FOCAL,
    ENDONERF_H,
    ENDONERF_W,
    LLFF_POSE,
    custom_data,
    endonerf_poses_bounds,
    messages_by_topic,
    write_endonerf,
)

W, H, FOCAL = ENDONERF_W, ENDONERF_H, ENDONERF_FOCAL


def test_llff_axes_become_optical_axes_on_a_known_pose() -> None:
    T = llff_to_optical(LLFF_POSE)
    assert np.linalg.det(T[:3, :3]) == pytest.approx(1.0)
    world_to_camera = invert_se3(T)

    def in_camera(point: list[float]) -> np.ndarray:
        return (world_to_camera @ np.append(point, 1.0))[:3]

    np.testing.assert_allclose(in_camera([2.0, 2.0, 3.0]), [0, 0, 1], atol=1e-12)  # 1 m ahead (+x) is +z
    np.testing.assert_allclose(in_camera([1.0, 2.0, 2.0]), [0, 1, 0], atol=1e-12)  # below (-z) is +y
    np.testing.assert_allclose(in_camera([1.0, 1.0, 3.0]), [1, 0, 0], atol=1e-12)  # right (-y) is +x
    # identity: LLFF (down, right, back) = world (x, y, z); OpenGL (right, up, back) = world (x, y, z)
    np.testing.assert_allclose(llff_to_optical(np.eye(3, 4))[:3, :3], [[0, 1, 0], [1, 0, 0], [0, 0, -1]])
    np.testing.assert_allclose(llff_to_optical(np.eye(3, 4), "opengl")[:3, :3], np.diag([1.0, -1.0, -1.0]))


def test_endonerf_folder_becomes_a_left_only_bag(tmp_path: Path) -> None:
    root = write_endonerf(tmp_path / "pulling")
    bag = tmp_path / "bag"
    summary = write_recording(load_endonerf(root), bag, ImportOptions(progress=False, storage="sqlite3"))
    counts = {topic: item.count for topic, item in bag_topics(bag).items()}
    expected = (topics.LEFT_IMAGE, topics.LEFT_CAMERA_INFO, topics.LEFT_INSTRUMENT_MASK, topics.LEFT_DEPTH_PRIOR)
    assert counts == dict.fromkeys((*expected, topics.TF), 3)  # no right camera, no /tf_static, no truth
    assert summary.storage == "sqlite3" and list(bag.glob("*.db3"))
    messages = messages_by_topic(bag)
    info = messages[topics.LEFT_CAMERA_INFO][0].msg
    K = np.array([[FOCAL, 0, W / 2], [0, FOCAL, H / 2], [0, 0, 1]])
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), K)
    np.testing.assert_allclose(np.reshape(info.p, (3, 4)), np.hstack([K, np.zeros((3, 1))]))
    assert not np.any(info.d) and (info.width, info.height) == (W, H)
    tf = messages[topics.TF][1].msg.transforms[0]
    assert (tf.header.frame_id, tf.child_frame_id) == (topics.WORLD_FRAME, topics.LEFT_OPTICAL_FRAME)
    np.testing.assert_allclose(transform_to_matrix(tf.transform), llff_to_optical(LLFF_POSE, "opengl"), atol=1e-12)
    prior = image_to_array(messages[topics.LEFT_DEPTH_PRIOR][2].msg)
    assert np.isnan(prior[0, 0]) and prior[1, 1] == pytest.approx(0.082)  # 82 mm PNG -> metres
    mask = image_to_array(messages[topics.LEFT_INSTRUMENT_MASK][0].msg)
    assert mask[-1, 0] == 255 and mask[0, -1] == 0 and (mask == 255).sum() == 120
    data = custom_data(bag)
    assert "not ground truth" in data["stereo_nerf.pose_source"] and "opengl" in data["stereo_nerf.pose_source"]
    assert data["stereo_nerf.endonerf.bounds"] == "0.03 0.2"
    stamps = [stamp_ns(m.msg.header) for m in messages[topics.LEFT_IMAGE]]
    assert held_out_stamps(bag) == {stamps[1]}  # EndoNeRF's split: frame i is held out when (i - 1) % 8 == 0


def test_endonerf_options_scale_depth_invert_masks_and_switch_axes(tmp_path: Path) -> None:
    root = write_endonerf(tmp_path / "cutting", frames=2)
    frame = load_endonerf(root, depth_scale=100.0, invert_masks=True, pose_convention="opengl").load(1)
    assert frame.depth_prior is not None and frame.depth_prior[1, 1] == pytest.approx(0.81)
    assert frame.left_mask is not None and not frame.left_mask[-1, 0] and frame.left_mask[0, -1]
    assert frame.T_world_left is not None
    np.testing.assert_allclose(frame.T_world_left, llff_to_optical(LLFF_POSE, "opengl"))


def test_resized_images_scale_the_focal_length(tmp_path: Path) -> None:
    root = write_endonerf(tmp_path / "half", frames=1)
    np.save(root / "poses_bounds.npy", endonerf_poses_bounds([np.eye(3, 4)], hwf=(2 * H, 2 * W, 2 * FOCAL)))
    view = load_endonerf(root).left_view
    assert view is not None and view.camera.K[0, 0] == pytest.approx(FOCAL)
    np.save(root / "poses_bounds.npy", endonerf_poses_bounds([np.eye(3, 4)], hwf=(H, 2 * W, FOCAL)))
    with pytest.raises(ImporterError, match=r"image is 64x48 but .*poses_bounds\.npy says 128x48"):
        load_endonerf(root)


def test_endonerf_pose_and_image_counts_must_agree(tmp_path: Path) -> None:
    root = write_endonerf(tmp_path / "short", frames=2)
    np.save(root / "poses_bounds.npy", endonerf_poses_bounds([np.eye(3, 4)] * 3))
    with pytest.raises(ImporterError, match=r"2 images in images/ but 3 poses in poses_bounds\.npy"):
        load_endonerf(root)
    np.save(root / "poses_bounds.npy", np.zeros((2, 15)))
    with pytest.raises(ImporterError, match=r"expected a finite N x 17 LLFF array, got shape \(2, 15\)"):
        load_endonerf(root)
