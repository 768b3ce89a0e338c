"""The stage graph with compressed images and with robot-provided poses (tf or a PoseStamped topic)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from stereo_nerf_core.config import load_config
from stereo_nerf_core.geometry.transforms import make_se3
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES as C
from stereo_nerf_core.io.bag import BagMessage, read_messages
from stereo_nerf_core.io.messages import camera_info_to_view, image_to_array, image_to_rgb, pose_to_matrix, stamp_ns
from stereo_nerf_core.io.ros_conversions.compressed import array_to_compressed
from stereo_nerf_core.pipeline.graph import BAG_TOPICS, StageGraph
from tests.conftest import CONFIG, SAMPLE_BAG

pytestmark = pytest.mark.skipif(not SAMPLE_BAG.exists(), reason=f"sample bag {SAMPLE_BAG} is missing")


def _first(frames: int) -> list[BagMessage]:
    messages: list[BagMessage] = []
    for message in read_messages(SAMPLE_BAG, BAG_TOPICS):
        if message.topic == topics.LEFT_IMAGE and sum(m.topic == topics.LEFT_IMAGE for m in messages) == frames:
            break
        messages.append(message)
    return messages


def test_compressed_png_input_gives_the_same_outputs_as_raw_images() -> None:
    messages = _first(2)
    config = load_config(CONFIG)
    raw = StageGraph(config, device="cpu")
    compressed = StageGraph(replace(config, nodes=replace(config.nodes, compressed_input=True)), device="cpu")
    for message in messages:
        raw.feed(message.topic, message.msg)
        if message.topic in (topics.LEFT_IMAGE, topics.RIGHT_IMAGE):
            rgb = image_to_rgb(message.msg)
            png = array_to_compressed(
                C, rgb, codec="png", stamp_ns=stamp_ns(message.msg.header), frame_id=message.msg.header.frame_id
            )
            compressed.feed(f"{message.topic}/compressed", png)
        else:
            compressed.feed(message.topic, message.msg)
    for topic in ("/stereo_frontend/left/image_rect", "/depth_prior/depth", "/depth_prior/mask"):
        a, b = raw.run.on(topic), compressed.run.on(topic)
        assert len(a) == len(b) == 2, topic
        for x, y in zip(a, b, strict=True):
            assert stamp_ns(x.header) == stamp_ns(y.header) and x.header.frame_id == y.header.frame_id
            np.testing.assert_array_equal(image_to_array(x), image_to_array(y))
    for graph in (raw, compressed):
        graph.trainer.cleanup()


@pytest.mark.parametrize("source", ["ground_truth", "tf"])
def test_robot_poses_are_used_as_given_and_tf_is_left_to_the_robot(source: str) -> None:
    config = load_config(CONFIG)
    graph = StageGraph(replace(config, tracking=replace(config.tracking, pose_source=source)), device="cpu")
    messages = _first(3)
    truth = {
        stamp_ns(m.msg.header): pose_to_matrix(m.msg.pose) for m in messages if m.topic == topics.GROUND_TRUTH_POSE
    }
    info = next(m.msg for m in messages if m.topic == topics.LEFT_CAMERA_INFO)
    T_raw_rect = make_se3(camera_info_to_view(info).R.T, np.zeros(3))
    graph.replay(messages)
    poses = graph.run.on("/tracker/pose")
    assert len(poses) == 3 and not graph.run.on("/tf")  # the robot owns world -> left optical frame
    for pose in poses:
        np.testing.assert_allclose(pose_to_matrix(pose.pose), truth[stamp_ns(pose.header)] @ T_raw_rect, atol=1e-9)
    (keyframe, *_) = graph.run.on("/tracker/keyframe_pose")
    assert stamp_ns(keyframe.header) == stamp_ns(poses[0].header)
    graph.trainer.cleanup()
