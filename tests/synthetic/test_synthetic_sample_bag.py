"""The committed sample bag (rosbags/sample_endoscope): topics, calibration and ground truth."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from stereo_nerf_core.geometry.transforms import rotation_angle_deg
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import TYPESTORE
from stereo_nerf_core.io.messages import (
    camera_info_to_view,
    image_to_array,
    pose_to_matrix,
    stamp_ns,
    transform_to_matrix,
)
from stereo_nerf_core.synthetic import StereoRenderer, build_world, preset
from stereo_nerf_core.synthetic.rig import davinci_rig
from tests.synthetic.synthetic_helpers import (
    SAMPLE_BAG,
    messages_by_topic,
    right_from_left,
    warp_right_to_left,
)

PER_FRAME_TYPES = {
    topics.LEFT_IMAGE: "sensor_msgs/msg/Image",
    topics.RIGHT_IMAGE: "sensor_msgs/msg/Image",
    topics.LEFT_CAMERA_INFO: "sensor_msgs/msg/CameraInfo",
    topics.RIGHT_CAMERA_INFO: "sensor_msgs/msg/CameraInfo",
    topics.LEFT_INSTRUMENT_MASK: "sensor_msgs/msg/Image",
    topics.GROUND_TRUTH_LEFT_DEPTH: "sensor_msgs/msg/Image",
    topics.GROUND_TRUTH_POSE: "geometry_msgs/msg/PoseStamped",
    topics.TF: "tf2_msgs/msg/TFMessage",
}


@pytest.fixture(scope="module")
def bag() -> dict[str, list[Any]]:
    """Every message of the sample bag per topic as (log time, message)."""
    if not (SAMPLE_BAG / "metadata.yaml").exists():
        pytest.fail(f"{SAMPLE_BAG} is missing: run `make sample-bag`")
    return messages_by_topic(SAMPLE_BAG)


def test_sample_bag_opens_with_anyreader_and_has_every_topic(bag: dict[str, list[Any]]) -> None:
    with AnyReader([SAMPLE_BAG], default_typestore=TYPESTORE) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert types == {**PER_FRAME_TYPES, topics.TF_STATIC: "tf2_msgs/msg/TFMessage"}
    frames = counts[topics.LEFT_IMAGE]
    assert 40 <= frames <= 60
    assert all(counts[topic] == frames for topic in PER_FRAME_TYPES)
    assert counts[topics.TF_STATIC] == 1
    size = sum(f.stat().st_size for f in SAMPLE_BAG.iterdir())
    assert size <= 25_000_000, f"sample bag is {size / 1e6:.1f} MB"
    assert sorted(f.name for f in SAMPLE_BAG.iterdir()) == ["metadata.yaml", "sample_endoscope.mcap"]
    # /tf_static is latched (transient local), as tf2's static listener requires on playback
    metadata = yaml.safe_load((SAMPLE_BAG / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    qos = {
        entry["topic_metadata"]["name"]: entry["topic_metadata"]["offered_qos_profiles"]
        for entry in metadata["topics_with_message_count"]
    }
    assert [profile["durability"] for profile in qos[topics.TF_STATIC]] == ["transient_local"]
    assert metadata["storage_identifier"] == "mcap"


def test_sample_bag_messages_encodings_frames_and_stamps(bag: dict[str, list[Any]]) -> None:
    expected = {
        topics.LEFT_IMAGE: ("rgb8", topics.LEFT_OPTICAL_FRAME),
        topics.RIGHT_IMAGE: ("rgb8", topics.RIGHT_OPTICAL_FRAME),
        topics.LEFT_INSTRUMENT_MASK: ("mono8", topics.LEFT_OPTICAL_FRAME),
        topics.GROUND_TRUTH_LEFT_DEPTH: ("32FC1", topics.LEFT_OPTICAL_FRAME),
    }
    for topic, (encoding, frame_id) in expected.items():
        for log_ns, msg in bag[topic]:
            assert (msg.encoding, msg.width, msg.height, msg.header.frame_id) == (
                encoding,
                320,
                256,
                frame_id,
            )
            assert stamp_ns(msg.header) == log_ns
    for side, info_topic, image_topic in (
        ("left", topics.LEFT_CAMERA_INFO, topics.LEFT_IMAGE),
        ("right", topics.RIGHT_CAMERA_INFO, topics.RIGHT_IMAGE),
    ):
        info_stamps = [stamp_ns(m.header) for _, m in bag[info_topic]]
        assert info_stamps == [stamp_ns(m.header) for _, m in bag[image_topic]], side
        assert {m.header.frame_id for _, m in bag[info_topic]} == {f"stereo_{side}_optical_frame"}
    left = np.array([stamp_ns(m.header) for _, m in bag[topics.LEFT_IMAGE]])
    right = np.array([stamp_ns(m.header) for _, m in bag[topics.RIGHT_IMAGE]])
    assert left[0] == 1_700_000_000_000_000_000
    assert np.all(np.diff(left) == 100_000_000)  # 10 Hz
    jitter = right - left
    assert np.all(np.abs(jitter) <= 1_000_000) and np.count_nonzero(jitter) >= len(jitter) - 1
    assert np.std(jitter) > 200_000  # really jittered, so exact-time sync would fail
    for topic in (topics.LEFT_INSTRUMENT_MASK, topics.GROUND_TRUTH_LEFT_DEPTH, topics.GROUND_TRUTH_POSE):
        assert [stamp_ns(m.header) for _, m in bag[topic]] == left.tolist()
    log_times = [t for messages in bag.values() for t, _ in messages]
    assert min(log_times) == min(left.min(), right.min())


def test_baseline_from_right_camera_info_equals_rendering_rig(bag: dict[str, list[Any]]) -> None:
    rig = davinci_rig(320, 256, preset("sample").baseline_m)
    for _, msg in bag[topics.RIGHT_CAMERA_INFO]:
        P = np.asarray(msg.p).reshape(3, 4)
        assert -P[0, 3] / P[0, 0] == pytest.approx(rig.baseline_m, abs=1e-9)
    assert rig.baseline_m == pytest.approx(0.0041, abs=1e-9)
    left_view = camera_info_to_view(bag[topics.LEFT_CAMERA_INFO][0][1])
    right_view = camera_info_to_view(bag[topics.RIGHT_CAMERA_INFO][0][1])
    assert np.allclose(left_view.camera.K, rig.left.K, atol=1e-12)
    assert np.allclose(right_view.camera.D, rig.right.D, atol=1e-12)
    assert left_view.camera.K[0, 0] == pytest.approx(1035.3 * 320 / 1280)
    assert np.abs(left_view.camera.D[:2]).min() > 0.01  # distorted raw images
    # the raw-to-raw transform implied by R and P equals the rig's and the /tf_static transform
    R, t = right_from_left(left_view, right_view)
    assert np.allclose(R, rig.R_right_left, atol=1e-9) and np.allclose(t, rig.t_right_left, atol=1e-12)
    angle = np.rad2deg(np.arccos((np.trace(R) - 1) / 2))
    assert 0.2 < angle < 0.5  # a real relative rotation for rectification to undo
    ((_, tf_static),) = bag[topics.TF_STATIC]
    (transform,) = tf_static.transforms
    assert (transform.header.frame_id, transform.child_frame_id) == (
        topics.LEFT_OPTICAL_FRAME,
        topics.RIGHT_OPTICAL_FRAME,
    )
    T_left_right = transform_to_matrix(transform.transform)
    assert np.allclose(T_left_right[:3, :3].T, R, atol=1e-9)
    assert np.linalg.norm(T_left_right[:3, 3]) == pytest.approx(rig.baseline_m, abs=1e-9)


def test_ground_truth_depth_range_and_instrument_mask(bag: dict[str, list[Any]]) -> None:
    masks = [image_to_array(m) > 0 for _, m in bag[topics.LEFT_INSTRUMENT_MASK]]
    depths = [image_to_array(m) for _, m in bag[topics.GROUND_TRUTH_LEFT_DEPTH]]
    values = np.unique(
        np.concatenate([image_to_array(m).ravel() for _, m in bag[topics.LEFT_INSTRUMENT_MASK]])
    )
    assert set(values.tolist()) == {0, 255}
    tissue = np.concatenate([d[~m] for d, m in zip(depths, masks, strict=True)])
    assert not np.isnan(tissue).any()  # the tissue fills every view
    assert tissue.min() >= 0.04 and tissue.max() <= 0.15
    assert np.mean((tissue > 0.05) & (tissue < 0.12)) > 0.99
    mask_pixels = [int(m.sum()) for m in masks]
    assert all(count == 0 for count in mask_pixels[:10])  # no instrument in the first second
    assert all(count > 2000 for count in mask_pixels[-10:])  # ~3-9 % of the view at the end
    for depth, mask in zip(depths, masks, strict=True):
        if mask.sum() < 200:
            continue
        ring = (cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0) & ~mask
        assert np.median(depth[mask]) < np.median(depth[ring]) - 0.01  # at least 1 cm in front
        assert depth[mask].max() < 0.08


def test_ground_truth_pose_matches_tf_and_moves(bag: dict[str, list[Any]]) -> None:
    poses = [pose_to_matrix(m.pose) for _, m in bag[topics.GROUND_TRUTH_POSE]]
    for (_, pose_msg), (_, tf_msg) in zip(bag[topics.GROUND_TRUTH_POSE], bag[topics.TF], strict=True):
        (transform,) = tf_msg.transforms
        assert (pose_msg.header.frame_id, transform.header.frame_id) == (
            topics.WORLD_FRAME,
            topics.WORLD_FRAME,
        )
        assert transform.child_frame_id == topics.LEFT_OPTICAL_FRAME
        assert np.allclose(
            transform_to_matrix(transform.transform), pose_to_matrix(pose_msg.pose), atol=1e-12
        )
    centres = np.array([T[:3, 3] for T in poses])
    travel = np.sum(np.linalg.norm(np.diff(centres, axis=0), axis=1))
    assert 0.015 <= travel <= 0.025
    assert 8.0 <= rotation_angle_deg(poses[0][:3, :3].T @ poses[-1][:3, :3]) <= 12.0


def test_ground_truth_photometric_self_consistency(bag: dict[str, list[Any]]) -> None:
    """Right image warped into the left through GT depth: ~2.3 grey levels mean error with noise on."""
    left_view = camera_info_to_view(bag[topics.LEFT_CAMERA_INFO][0][1])
    right_view = camera_info_to_view(bag[topics.RIGHT_CAMERA_INFO][0][1])
    count = len(bag[topics.LEFT_IMAGE])
    for index in (0, count // 2, count - 1):
        left = image_to_array(bag[topics.LEFT_IMAGE][index][1]).astype(np.float32)
        right = image_to_array(bag[topics.RIGHT_IMAGE][index][1])
        depth = image_to_array(bag[topics.GROUND_TRUTH_LEFT_DEPTH][index][1])
        mask = image_to_array(bag[topics.LEFT_INSTRUMENT_MASK][index][1])
        # tissue the instrument may hide from the right camera lies within ~10 px of it
        near_instrument = cv2.dilate(mask, np.ones((5, 41), np.uint8)) > 0
        warped, in_view, _, _ = warp_right_to_left(left_view, right_view, depth, right)
        highlight = (left.max(axis=2) >= 200) | (warped.max(axis=2) >= 200)
        valid = in_view & ~near_instrument & ~highlight
        assert valid.mean() > 0.7
        wrong, _, _, _ = warp_right_to_left(left_view, right_view, depth * 1.1, right)
        errors = {
            scale: float(np.abs(image - left).mean(axis=2)[valid].mean())
            for scale, image in ((1.0, warped), (1.1, wrong))
        }
        assert errors[1.0] < 3.0, errors
        assert errors[1.1] > 4.0 and errors[1.1] > 1.8 * errors[1.0], errors


def test_sample_bag_is_what_the_sample_preset_renders(bag: dict[str, list[Any]]) -> None:
    """`make sample-bag` remakes the committed bag: frame 0 re-renders to the same pixels."""
    renderer = StereoRenderer(build_world(preset("sample")))
    frame = renderer.render(0)
    stored = image_to_array(bag[topics.LEFT_IMAGE][0][1])
    difference = np.abs(stored.astype(np.int16) - frame.left.image.astype(np.int16))
    assert np.mean(difference == 0) > 0.999 and difference.max() <= 1
    depth = image_to_array(bag[topics.GROUND_TRUTH_LEFT_DEPTH][0][1])
    assert np.allclose(depth, frame.left.depth, atol=1e-5, equal_nan=True)
