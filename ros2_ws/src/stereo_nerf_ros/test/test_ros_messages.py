"""Messages the nodes build with rclpy's classes are the ROS messages: rclpy serialises them to the CDR that
rosbags reads back field for field; without tf2_msgs the stages leave /tf and /tf_static out."""

from __future__ import annotations

import array
from typing import Any

import numpy as np
import pytest
from conftest import requires_ros

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, StereoCalibration
from stereo_nerf_core.io.bag import TYPESTORE
from stereo_nerf_core.io.cdr import cdr_header
from stereo_nerf_core.io.messages import array_to_image, image_to_array, stamp_ns, view_to_camera_info
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import DepthPriorNodeStage, StereoFrontendStage, StereoMessages

pytestmark = requires_ros
STAMP = 1_700_000_123_456_789_012


def _rig() -> StereoCalibration:
    K = np.array([[100.0, 0, 64], [0, 100.0, 48], [0, 0, 1]])
    camera = PinholeCamera(128, 96, K)
    right = np.hstack([K, [[-0.5], [0.0], [0.0]]])
    return StereoCalibration(
        RectifiedView(camera, np.eye(3), np.hstack([K, np.zeros((3, 1))])), RectifiedView(camera, np.eye(3), right)
    )


def _pair(classes: Any) -> tuple[Any, Any, Any, Any]:
    texture = np.random.default_rng(3).integers(0, 256, size=(96, 136, 3), dtype=np.uint8)
    rig = _rig()
    return (
        array_to_image(classes, np.ascontiguousarray(texture[:, :128]), encoding="rgb8", stamp_ns=STAMP, frame_id="l"),
        array_to_image(classes, np.ascontiguousarray(texture[:, 8:]), encoding="rgb8", stamp_ns=STAMP, frame_id="r"),
        view_to_camera_info(classes, rig.left, stamp_ns=STAMP, frame_id="l"),
        view_to_camera_info(classes, rig.right, stamp_ns=STAMP, frame_id="r"),
    )


def _to_rosbags(msg: Any, type_name: str) -> Any:
    from rclpy.serialization import serialize_message

    return TYPESTORE.deserialize_cdr(serialize_message(msg), type_name)


def test_depth_outputs_built_with_rclpy_read_back_through_cdr() -> None:
    from stereo_nerf_ros.ros_messages import rclpy_message_classes

    classes = rclpy_message_classes()
    outputs = DepthPriorNodeStage(PipelineConfig(), classes).process(*_pair(classes))
    depth = outputs[names.DEPTH]
    assert isinstance(depth.data, array.array)  # what rclpy's setters take without a per-element copy
    back = _to_rosbags(depth, "sensor_msgs/msg/Image")
    np.testing.assert_array_equal(image_to_array(back), image_to_array(depth))
    assert stamp_ns(back.header) == STAMP and back.header.frame_id == names.LEFT_RECT_OPTICAL_FRAME
    info = _to_rosbags(outputs[names.DEPTH_INFO], "sensor_msgs/msg/CameraInfo")
    np.testing.assert_array_equal(np.asarray(info.p).reshape(3, 4), _rig().left.P)
    from rclpy.serialization import serialize_message

    assert cdr_header(serialize_message(depth)) == (STAMP, names.LEFT_RECT_OPTICAL_FRAME)


def test_without_tf2_msgs_the_static_transforms_are_left_out() -> None:
    from stereo_nerf_ros.ros_messages import rclpy_message_classes, tf_unavailable

    classes = rclpy_message_classes()
    if tf_unavailable() is None:
        pytest.skip("tf2_msgs is installed here: /tf_static is published")
    assert "tf2_msgs" in str(tf_unavailable()) and classes.TFMessage is None
    outputs = StereoFrontendStage(PipelineConfig(), classes).process(StereoMessages(*_pair(classes)))
    assert set(outputs) == set(names.FRONTEND_OUTPUTS)
