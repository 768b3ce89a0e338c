"""depth_prior node: synchronised stereo pair -> rectified left image, dense depth prior and confidence.

A thin rclpy shell around :mod:`stereo_nerf_ros.depth_prior` (topics, frames and message layout are
documented there). Backpressure: the synchroniser callback only parks the newest set in a
single-slot buffer; a worker timer in its own callback group processes it. A set that arrives
while the previous one still waits replaces it and is counted as dropped, so the node always works
on the newest pair and never queues up latency. Sets that cannot be converted or processed are
logged (naming the topic) and skipped; the node keeps running.
"""

from __future__ import annotations

from typing import Any

import rclpy
from message_filters import ApproximateTimeSynchronizer, Subscriber
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage

from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.errors import MessageError
from stereo_nerf_core.pipeline.stages import StereoDepthStage
from stereo_nerf_ros.depth_prior import (
    INPUT_TOPICS,
    LEFT_RECT_CAMERA_INFO_TOPIC,
    NODE_NAME,
    OUTPUT_TOPICS,
    PARAMETER_GROUPS,
    LatestSlot,
    StereoMessages,
    depth_outputs,
    process_stereo_messages,
    rectification_transform,
)
from stereo_nerf_ros.parameters import declare_pipeline_parameters, read_pipeline_config
from stereo_nerf_ros.ros_messages import rclpy_message_classes

WORKER_PERIOD_S = 0.005
"""How often the worker looks for a new set (steady clock, so it runs with use_sim_time too)."""
OUTPUT_QUEUE_DEPTH = 5
"""Reliable, volatile output publishers: compatible with reliable and best-effort subscribers."""


class DepthPriorNode(Node):
    """Subscribes to the raw stereo pair and camera_info, publishes the depth prior of each processed set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        declare_pipeline_parameters(self, PARAMETER_GROUPS)
        self.config = read_pipeline_config(lambda name: self.get_parameter(name).value, PARAMETER_GROUPS)
        self.stage = StereoDepthStage(self.config.depth_prior)
        self.classes = rclpy_message_classes()
        self.slot: LatestSlot[StereoMessages] = LatestSlot()
        self.processed = 0
        self.failed = 0
        self._static_transform_for: tuple[StereoCalibration, str] | None = None
        """Calibration and raw frame of the last /tf_static message (republished when either changes)."""
        left, right, left_info, right_info = (self.resolve_topic_name(name) for name in INPUT_TOPICS)
        self.topic_names = (left, right, left_info, right_info)

        input_group = MutuallyExclusiveCallbackGroup()
        self._inputs = [
            Subscriber(self, msg_type, topic, qos_profile=qos_profile_sensor_data, callback_group=input_group)
            for msg_type, topic in zip((Image, Image, CameraInfo, CameraInfo), INPUT_TOPICS, strict=True)
        ]
        self._sync = ApproximateTimeSynchronizer(
            self._inputs, queue_size=self.config.sync.queue_size, slop=self.config.sync.slop_s
        )
        self._sync.registerCallback(self._on_stereo_set)

        output_qos = QoSProfile(depth=OUTPUT_QUEUE_DEPTH)
        self._outputs = {
            topic: self.create_publisher(
                CameraInfo if topic == LEFT_RECT_CAMERA_INFO_TOPIC else Image, topic, output_qos
            )
            for topic in OUTPUT_TOPICS
        }
        static_qos = QoSProfile(
            depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
        )
        self._tf_static = self.create_publisher(TFMessage, topics.TF_STATIC, static_qos)
        self._worker = self.create_timer(
            WORKER_PERIOD_S,
            self._work,
            callback_group=MutuallyExclusiveCallbackGroup(),
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        self.get_logger().info(
            f"depth prior on {left} + {right} (slop {self.config.sync.slop_s} s, queue {self.config.sync.queue_size}), "
            f"depth range {self.config.depth_prior.min_depth_m}-{self.config.depth_prior.max_depth_m} m"
        )

    def _on_stereo_set(
        self, left_image: Image, right_image: Image, left_info: CameraInfo, right_info: CameraInfo
    ) -> None:
        # Runs under message_filters' lock: only park the set here, never raise.
        if self.slot.put(StereoMessages(left_image, right_image, left_info, right_info)):
            self.get_logger().warning(
                f"processing is slower than the input: dropped {self.slot.dropped} of "
                f"{self.slot.received} stereo sets so far (the newest set is always kept)",
                throttle_duration_sec=5.0,
            )

    def _work(self) -> None:
        messages = self.slot.take()
        if messages is None:
            return
        try:
            converted, result = process_stereo_messages(self.stage, messages, self.topic_names)
        except (MessageError, FrontendError) as error:
            self.failed += 1
            self.get_logger().error(f"skipped a stereo set ({self.failed} so far): {error}", throttle_duration_sec=1.0)
            return
        for topic, msg in depth_outputs(result, self.classes, converted.stamp_ns).items():
            self._outputs[topic].publish(msg)
        previous = self._static_transform_for
        if previous is None or previous[0] is not result.calibration or previous[1] != converted.raw_frame_id:
            self._tf_static.publish(
                rectification_transform(
                    result.calibration, self.classes, converted.stamp_ns, raw_frame_id=converted.raw_frame_id
                )
            )
            self._static_transform_for = (result.calibration, converted.raw_frame_id)
        self.processed += 1

    def summary(self) -> str:
        """Counts of received, processed, dropped and failed stereo sets."""
        return (
            f"{self.slot.received} stereo sets received, {self.processed} processed, "
            f"{self.slot.dropped} dropped (processing too slow), {self.failed} failed"
        )


def main(args: list[str] | None = None) -> int:
    """Console script ``depth_prior_node``: runs the node until shutdown; exit code 2 on invalid parameters."""
    rclpy.init(args=args)
    try:
        node = DepthPriorNode()
    except (ConfigError, ParameterException) as error:
        get_logger(NODE_NAME).fatal(f"invalid parameters: {error}")
        rclpy.try_shutdown()
        return 2
    executor = MultiThreadedExecutor(num_threads=3)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.get_logger().info(node.summary())
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
