"""tracker node: depth_prior frames -> camera pose, path, /tf (world -> raw left optical frame), keyframes.

A thin rclpy shell around :class:`stereo_nerf_core.pipeline.tracker_stage.TrackerStage` (poses,
frames and the pose sources are documented there). Side inputs (the raw left camera_info and,
with ``tracking.pose_source`` tf or ground_truth, /tf or /ground_truth/pose) run in the worker's
callback group, so they never interleave with a frame being tracked.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from stereo_nerf_core.io import topics
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.tracker_stage import TrackerStage
from stereo_nerf_ros.node_runtime import TF_QOS, NodeRuntime, spin_node
from stereo_nerf_ros.node_specs import SPECS, message_class

SPEC = SPECS[names.TRACKER]


class TrackerNode(Node):
    """Tracks each depth_prior frame and selects keyframes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SPEC.name, **kwargs)
        self.runtime = NodeRuntime(self, SPEC, self._process)
        self.stage = TrackerStage(self.runtime.config, self.runtime.classes)
        self.runtime.create_publishers()
        self.topic_names = self.runtime.synchronise(names.TRACKER_INPUTS, approximate=False)
        group = self.runtime.worker_group
        self._side = [
            self.create_subscription(
                message_class(SPEC.inputs[topics.LEFT_CAMERA_INFO]),
                topics.LEFT_CAMERA_INFO,
                self.stage.accept_raw_camera_info,
                qos_profile_sensor_data,
                callback_group=group,
            )
        ]
        source = self.runtime.config.tracking.pose_source
        if source == "tf":
            self._side.append(
                self.create_subscription(
                    message_class(SPEC.inputs[topics.TF]), topics.TF, self.stage.accept_tf, TF_QOS, callback_group=group
                )
            )
        elif source == "ground_truth":
            self._side.append(
                self.create_subscription(
                    message_class(SPEC.inputs[topics.GROUND_TRUTH_POSE]),
                    topics.GROUND_TRUTH_POSE,
                    self.stage.accept_pose,
                    qos_profile_sensor_data,
                    callback_group=group,
                )
            )
        self._worker = self.runtime.start_worker()
        self.get_logger().info(f"tracking {self.topic_names[3]} with poses from {source}")

    def _process(self, item: tuple[Any, ...]) -> dict[str, Any]:
        return self.stage.process(*item, topic_names=self.topic_names)

    def summary(self) -> str:
        """Counts of input sets, tracked and lost frames and keyframes."""
        stage = self.stage
        return f"{self.runtime.summary()}; {stage.tracked} tracked, {stage.lost} lost, {stage.keyframes} keyframes"

    def shutdown_stage(self) -> None:
        """Nothing to release."""


def main(args: list[str] | None = None) -> int:
    """Console script ``tracker_node``."""
    return spin_node(TrackerNode, SPEC.name, args)


if __name__ == "__main__":
    raise SystemExit(main())
