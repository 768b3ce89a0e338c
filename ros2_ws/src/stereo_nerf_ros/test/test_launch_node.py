"""Launch test (runs in the docker image with `colcon test`): pipeline.launch.py starts every node; each
advertises its outputs (the trainer after its lifecycle configure), and depth_prior publishes a depth image
for a synthetic stereo pair.

It needs launch_testing's pytest plugin, which ``colcon test`` loads from an installed launch_testing (the
docker image); elsewhere the module is skipped and test_live_graph.py runs the launch file instead.
"""

from __future__ import annotations

import sys
import time
import unittest
from pathlib import Path
from typing import Any

import pytest

if "launch_testing.pytest.hooks" not in sys.modules:
    pytest.skip(
        "needs launch_testing's pytest plugin (colcon test in the docker image); test_live_graph.py runs the launch",
        allow_module_level=True,
    )
import launch_testing
import rclpy

DEPTH_TOPIC = "/depth_prior/depth"
LEFT_RECT_OPTICAL_FRAME = "stereo_left_rect_optical_frame"
TIMEOUT_S = 60.0


@pytest.mark.launch_test
def generate_test_description() -> Any:
    """The installed pipeline.launch.py with its defaults, then ReadyToTest."""
    import launch_testing.actions
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description import LaunchDescription  # "from launch import" resolves to the repo's link
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    launch_file = Path(get_package_share_directory("stereo_nerf_ros")) / "launch" / "pipeline.launch.py"
    return LaunchDescription(
        [
            IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_file))),
            launch_testing.actions.ReadyToTest(),
        ]
    )


def _synthetic_set(stamp_ns: int) -> tuple[Any, Any, Any, Any]:
    """A textured fronto-parallel plane seen by an ideal 160x120 rig (rclpy messages)."""
    import numpy as np
    from stereo_nerf_ros.ros_messages import rclpy_message_classes

    from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, StereoCalibration
    from stereo_nerf_core.io import topics
    from stereo_nerf_core.io.messages import array_to_image, view_to_camera_info

    width, height, fx, baseline, shift = 160, 120, 100.0, 0.005, 8
    K = np.array([[fx, 0.0, width / 2], [0.0, fx, height / 2], [0.0, 0.0, 1.0]])
    camera = PinholeCamera(width, height, K)
    calibration = StereoCalibration(
        RectifiedView(camera, np.eye(3), np.hstack([K, np.zeros((3, 1))])),
        RectifiedView(camera, np.eye(3), np.hstack([K, [[-fx * baseline], [0.0], [0.0]]])),
    )
    texture = np.random.default_rng(0).integers(0, 256, size=(height, width + shift, 3), dtype=np.uint8)
    left, right = np.ascontiguousarray(texture[:, :width]), np.ascontiguousarray(texture[:, shift:])
    classes = rclpy_message_classes()
    frame = topics.LEFT_OPTICAL_FRAME
    return (
        array_to_image(classes, left, encoding="rgb8", stamp_ns=stamp_ns, frame_id=frame),
        array_to_image(classes, right, encoding="rgb8", stamp_ns=stamp_ns, frame_id=topics.RIGHT_OPTICAL_FRAME),
        view_to_camera_info(classes, calibration.left, stamp_ns=stamp_ns, frame_id=frame),
        view_to_camera_info(classes, calibration.right, stamp_ns=stamp_ns, frame_id=topics.RIGHT_OPTICAL_FRAME),
    )


class TestDepthPriorNode(unittest.TestCase):
    """Talks to the launched node over ROS."""

    @classmethod
    def setUpClass(cls) -> None:
        rclpy.init()

    @classmethod
    def tearDownClass(cls) -> None:
        rclpy.shutdown()

    def setUp(self) -> None:
        self.node = rclpy.create_node("depth_prior_launch_test")

    def tearDown(self) -> None:
        self.node.destroy_node()

    def test_depth_topic_is_advertised(self) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            names = {name for name, _ in self.node.get_topic_names_and_types()}
            if DEPTH_TOPIC in names:
                return
            rclpy.spin_once(self.node, timeout_sec=0.2)
        self.fail(f"{DEPTH_TOPIC} did not appear within {TIMEOUT_S} s; topics: {sorted(names)}")

    def test_every_node_advertises_its_outputs(self) -> None:
        from stereo_nerf_ros.node_specs import SPECS

        from stereo_nerf_core.pipeline.node_topics import resolve

        wanted = {resolve(spec.name, topic) for spec in SPECS.values() for topic in spec.outputs}
        deadline = time.monotonic() + TIMEOUT_S
        names: set[str] = set()
        while time.monotonic() < deadline and not wanted <= names:
            names = {name for name, _ in self.node.get_topic_names_and_types()}
            rclpy.spin_once(self.node, timeout_sec=0.2)
        self.assertFalse(wanted - names, f"not advertised within {TIMEOUT_S} s: {sorted(wanted - names)}")

    def test_depth_is_published_for_a_stereo_pair(self) -> None:
        from sensor_msgs.msg import CameraInfo, Image

        from stereo_nerf_core.io import topics

        received: list[Any] = []
        self.node.create_subscription(Image, DEPTH_TOPIC, received.append, 10)
        publishers = [
            self.node.create_publisher(msg_type, topic, 10)
            for msg_type, topic in (
                (Image, topics.LEFT_IMAGE),
                (Image, topics.RIGHT_IMAGE),
                (CameraInfo, topics.LEFT_CAMERA_INFO),
                (CameraInfo, topics.RIGHT_CAMERA_INFO),
            )
        ]
        stamps: set[int] = set()
        deadline = time.monotonic() + TIMEOUT_S
        while not received and time.monotonic() < deadline:
            stamp = 1_000_000_000 * (len(stamps) + 1)
            stamps.add(stamp)
            for publisher, msg in zip(publishers, _synthetic_set(stamp), strict=True):
                publisher.publish(msg)
            end = time.monotonic() + 0.2
            while not received and time.monotonic() < end:
                rclpy.spin_once(self.node, timeout_sec=0.05)
        self.assertTrue(received, f"no message on {DEPTH_TOPIC} within {TIMEOUT_S} s")
        depth = received[0]
        self.assertEqual((depth.encoding, depth.width, depth.height), ("32FC1", 160, 120))
        self.assertEqual(depth.header.frame_id, LEFT_RECT_OPTICAL_FRAME)
        self.assertIn(depth.header.stamp.sec * 1_000_000_000 + depth.header.stamp.nanosec, stamps)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    """The node exits cleanly when the launch shuts down."""

    def test_exit_codes(self, proc_info: Any) -> None:
        from launch_testing.asserts import assertExitCodes

        assertExitCodes(proc_info)
