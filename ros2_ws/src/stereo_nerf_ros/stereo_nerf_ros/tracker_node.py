"""tracker node: rectified left image (+ depth prior for keyframes) -> camera pose, path, /tf, keyframes.

A thin rclpy shell around :class:`stereo_nerf_core.pipeline.tracker_stage.TrackerStage` (poses, frames
and the pose sources are documented there). The worker thread poses each rectified image as it comes and
waits (up to ``tracking.prior_timeout_s``) for depth_prior only when the frame becomes a keyframe. Side
inputs run on the executor meanwhile: depth priors, the raw left camera_info and, with
``tracking.pose_source`` tf, ``/tf`` and ``/tf_static`` (the robot's chain), or with ground_truth,
``ground_truth/pose``; a frame whose robot pose has not arrived yet waits up to ``tracking.tf_timeout_s``.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.messages import stamp_ns
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.tracker_stage import TrackerStage
from stereo_nerf_ros.node_runtime import NodeRuntime, spin_node
from stereo_nerf_ros.node_specs import SPECS
from stereo_nerf_ros.ros_messages import tf_unavailable

SPEC = SPECS[names.TRACKER]


class TrackerNode(Node):
    """Tracks each frame and selects keyframes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SPEC.name, **kwargs)
        self.runtime = NodeRuntime(self, SPEC, self._process)
        source = self.runtime.config.tracking.pose_source
        if source == "tf" and tf_unavailable():
            raise ConfigError(f"tracking.pose_source is 'tf' but /tf cannot be read: {tf_unavailable()}")
        self.stage = TrackerStage(self.runtime.config, self.runtime.classes)
        self.runtime.create_publishers()
        self.topic_names = self.runtime.synchronise(names.TRACKER_INPUTS, approximate=False)
        self.prior_names = self.runtime.synchronise(
            names.TRACKER_PRIOR_INPUTS, approximate=False, on_set=self.stage.accept_prior
        )
        self._side = [self.runtime.subscribe(names.RAW_LEFT_INFO, self.stage.accept_raw_camera_info)]
        if source == "tf":
            self._side.append(self.runtime.subscribe(topics.TF, self.stage.accept_tf))
            self._side.append(
                self.runtime.subscribe(topics.TF_STATIC, lambda msg: self.stage.accept_tf(msg, static=True))
            )
        elif source == "ground_truth":
            self._side.append(self.runtime.subscribe(names.GROUND_TRUTH_POSE, self.stage.accept_pose))
        self.runtime.start_worker()
        self.get_logger().info(f"tracking {self.topic_names[0]} with poses from {source}")

    def _process(self, item: tuple[Any, ...]) -> dict[str, Any]:
        outputs = self.stage.track(*item, topic_names=self.topic_names)
        if outputs is None:  # a keyframe: wait for its depth prior
            prior = self.stage.wait_prior(stamp_ns(item[0].header), self.runtime.config.tracking.prior_timeout_s)
            outputs = self.stage.finish(prior, topic_names=self.prior_names)
        if not outputs and self.stage.lost_reason:
            self.get_logger().warning(
                f"no pose for a frame ({self.stage.lost} so far): {self.stage.lost_reason}", throttle_duration_sec=5.0
            )
        return outputs

    def summary(self) -> str:
        """Counts of input sets, tracked and lost frames and keyframes."""
        stage = self.stage
        return f"{self.runtime.summary()}; {stage.tracked} tracked, {stage.lost} lost, {stage.keyframes} keyframes"

    def shutdown_stage(self) -> None:
        """Stop the worker."""
        self.runtime.stop_worker()


def main(args: list[str] | None = None) -> int:
    """Console script ``tracker_node``."""
    return spin_node(TrackerNode, SPEC.name, args)


if __name__ == "__main__":
    raise SystemExit(main())
