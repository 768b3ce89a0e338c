"""stereo_frontend node: raw stereo pair + camera_info -> rectified pair, rectified camera_info, /tf_static.

A thin rclpy shell around :class:`stereo_nerf_core.pipeline.node_stages.StereoFrontendStage` (topics and
frames: :mod:`stereo_nerf_core.pipeline.node_topics`; queue, worker and errors:
:mod:`stereo_nerf_ros.node_runtime`). The only node that rectifies: the matcher, depth_prior, tracker and
trainer take its rectified pair. Images are sensor_msgs/Image, or CompressedImage on
``<topic>/compressed`` with ``nodes.compressed_input``.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import StereoFrontendStage, StereoMessages
from stereo_nerf_ros.node_runtime import NodeRuntime, spin_node
from stereo_nerf_ros.node_specs import SPECS

SPEC = SPECS[names.STEREO_FRONTEND]


class StereoFrontendNode(Node):
    """Rectifies each synchronised raw pair."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SPEC.name, **kwargs)
        self.runtime = NodeRuntime(self, SPEC, self._process)
        self.stage = StereoFrontendStage(self.runtime.config, self.runtime.classes)
        self.runtime.create_publishers()
        self.topic_names = self.runtime.synchronise(names.RAW_INPUTS, approximate=True)
        self.runtime.start_worker()
        self.get_logger().info(f"rectifying {self.topic_names[0]} + {self.topic_names[1]}")

    def _process(self, item: tuple[Any, ...]) -> dict[str, Any]:
        return self.stage.process(StereoMessages(*item), self.topic_names)

    def summary(self) -> str:
        """Counts of the node's input sets."""
        return self.runtime.summary()

    def shutdown_stage(self) -> None:
        """Stop the worker."""
        self.runtime.stop_worker()


def main(args: list[str] | None = None) -> int:
    """Console script ``stereo_frontend_node``."""
    return spin_node(StereoFrontendNode, SPEC.name, args)


if __name__ == "__main__":
    raise SystemExit(main())
