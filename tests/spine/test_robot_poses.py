"""Poses from a robot's tf tree: a bag whose /tf is a three-link chain (world -> base -> arm, at 30 Hz, never at
an image stamp; arm -> camera on /tf_static) gives the ground-truth poses in the offline replay, and the live
tracker, fed the same messages at their pace, waits for the late transform and gives the very same poses."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stereo_nerf_core.config import load_config
from stereo_nerf_core.geometry.transforms import interpolate_se3, invert_se3, make_se3, rotation_about_axis
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES as C
from stereo_nerf_core.io.bag import BagWriter, read_messages
from stereo_nerf_core.io.messages import pose_to_matrix, stamp_ns
from stereo_nerf_core.io.ros_conversions.trajectory import StampedTransform, transforms_to_tf
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import StereoFrontendStage, StereoMessages
from stereo_nerf_core.pipeline.tracker_stage import TrackerStage
from stereo_nerf_core.spine.frames import FrameAssembler
from tests.conftest import CONFIG, SAMPLE_BAG

FRAMES = 8
TF_PERIOD_NS = 33_333_333
TF_OFFSET_NS = 5_000_000
ARM_TIP = make_se3(rotation_about_axis([1.0, 0.0, 0.0], 0.3), [0.01, 0.0, 0.12])
"""arm -> camera (static): the camera on the arm's tip."""


def _truth_between(truth: dict[int, np.ndarray], stamp: int) -> np.ndarray:
    """The ground-truth camera pose at any stamp: interpolated between the bag's 10 Hz poses."""
    stamps = sorted(truth)
    index = min(max(int(np.searchsorted(stamps, stamp)), 1), len(stamps) - 1)
    t0, t1 = stamps[index - 1], stamps[index]
    return interpolate_se3(truth[t0], truth[t1], (stamp - t0) / (t1 - t0))


def _base(stamp: int, first: int) -> np.ndarray:
    """world -> base: a slow rotation and drift of the robot's base."""
    seconds = (stamp - first) / 1e9
    return make_se3(rotation_about_axis([0.0, 0.0, 1.0], 0.05 * seconds), [0.002 * seconds, 0.3, 0.0])


@pytest.fixture(scope="module")
def chain_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = [*(names.resolve("", t) for t in names.RAW_INPUTS), topics.GROUND_TRUTH_POSE]
    messages = [m for m in read_messages(SAMPLE_BAG, wanted)]
    truth = {
        stamp_ns(m.msg.header): pose_to_matrix(m.msg.pose) for m in messages if m.topic == topics.GROUND_TRUTH_POSE
    }
    first = min(truth)
    last = sorted(truth)[FRAMES - 1]
    bag = tmp_path_factory.mktemp("chain") / "chain_bag"
    tf_stamps = range(first - 2 * TF_PERIOD_NS + TF_OFFSET_NS, last + 3 * TF_PERIOD_NS, TF_PERIOD_NS)
    entries: list[tuple[int, str, Any]] = []
    for stamp in tf_stamps:  # world -> base -> arm at 30 Hz, so that the chain to the camera is the truth
        T_world_arm = _truth_between(truth, stamp) @ invert_se3(ARM_TIP)
        base = _base(stamp, first)
        chain = [
            StampedTransform(stamp, topics.WORLD_FRAME, "base", base),
            StampedTransform(stamp, "base", "arm", invert_se3(base) @ T_world_arm),
        ]
        entries.append((stamp, topics.TF, transforms_to_tf(C, chain)))
    entries.append(
        (
            first,
            topics.TF_STATIC,
            transforms_to_tf(C, [StampedTransform(first, "arm", topics.LEFT_OPTICAL_FRAME, ARM_TIP)]),
        )
    )
    entries += [
        (m.log_time_ns, m.topic, m.msg)
        for m in messages
        if m.topic != topics.GROUND_TRUTH_POSE and m.log_time_ns <= last + 2_000_000
    ]
    entries += [
        (s, topics.GROUND_TRUTH_POSE, m.msg)
        for m in messages
        if m.topic == topics.GROUND_TRUTH_POSE and (s := stamp_ns(m.msg.header)) <= last
    ]
    with BagWriter(bag) as writer:
        for log_time, topic, msg in sorted(entries, key=lambda e: e[0]):
            writer.write(topic, msg, log_time, latched=topic == topics.TF_STATIC)
    return bag


def _config() -> Any:
    config = load_config(CONFIG)
    return replace(config, tracking=replace(config.tracking, pose_source="tf", tf_timeout_s=2.0))


def test_the_replay_composes_the_chain_into_the_true_poses(chain_bag: Path) -> None:
    frames = list(FrameAssembler(_config().sync, tracking=_config().tracking).frames_from(read_messages(chain_bag)))
    assert len(frames) == FRAMES
    for frame in frames:
        assert frame.T_world_left is not None and frame.T_world_left_truth is not None
        error = np.linalg.norm(frame.T_world_left[:3, 3] - frame.T_world_left_truth[:3, 3])
        assert error < 2e-6, error  # interpolation of two 30 Hz links between samples: micrometres


def test_the_live_tracker_waits_for_the_late_link_and_agrees_with_the_replay(chain_bag: Path) -> None:
    config = _config()
    replay = {
        frame.stamp_ns: frame.T_world_left
        for frame in FrameAssembler(config.sync, tracking=config.tracking).frames_from(read_messages(chain_bag))
    }
    tracker, frontend = TrackerStage(config, C), StereoFrontendStage(config, C)
    messages = list(read_messages(chain_bag))
    start, first = time.monotonic(), messages[0].log_time_ns
    speed = 4.0  # the robot's /tf arrives on its own thread at 4x the recorded pace

    def robot() -> None:
        for message in messages:
            if message.topic in (topics.TF, topics.TF_STATIC):
                time.sleep(max(0.0, start + (message.log_time_ns - first) / 1e9 / speed - time.monotonic()))
                tracker.accept_tf(message.msg, static=message.topic == topics.TF_STATIC)

    feeder = threading.Thread(target=robot)
    feeder.start()
    raw: dict[int, dict[str, Any]] = {}
    poses = {}
    for message in messages:
        if message.topic == topics.LEFT_CAMERA_INFO:
            tracker.accept_raw_camera_info(message.msg)
        if message.topic in (topics.LEFT_IMAGE, topics.RIGHT_IMAGE, topics.LEFT_CAMERA_INFO, topics.RIGHT_CAMERA_INFO):
            key = round(stamp_ns(message.msg.header) / 1e8)
            raw.setdefault(key, {})[message.topic] = message.msg
            if len(raw[key]) == 4:  # a pair: rectified, then posed as the tracker node does it
                pair = raw.pop(key)
                rectified = frontend.process(
                    StereoMessages(
                        *(
                            pair[t]
                            for t in (
                                topics.LEFT_IMAGE,
                                topics.RIGHT_IMAGE,
                                topics.LEFT_CAMERA_INFO,
                                topics.RIGHT_CAMERA_INFO,
                            )
                        )
                    )
                )
                outputs = tracker.track(
                    *(rectified[t] for t in (names.LEFT_RECT_IMAGE, names.LEFT_RECT_INFO, names.RIGHT_RECT_INFO))
                )
                assert outputs, tracker.lost_reason
                pose = outputs[names.POSE]
                poses[stamp_ns(pose.header)] = pose_to_matrix(pose.pose)
    feeder.join()
    assert sorted(poses) == sorted(replay) and len(poses) == FRAMES
    T_raw_rect = tracker.T_raw_rect
    for stamp, pose in poses.items():
        T_world_left = replay[stamp]
        assert T_world_left is not None
        np.testing.assert_allclose(pose, T_world_left @ T_raw_rect, atol=1e-9)
