"""depth_prior node: synchronised raw stereo pair -> dense depth prior, confidence, mask, rectified left image.

A thin rclpy shell around :class:`stereo_nerf_core.pipeline.node_stages.DepthPriorNodeStage` (topics,
frames and message layout: :mod:`stereo_nerf_ros.depth_prior`). Backpressure: the synchroniser
callback only parks the newest set in a drop-oldest queue (``nodes.queue_size``); a worker timer
in its own callback group processes it (:mod:`stereo_nerf_ros.node_runtime`).
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import DepthPriorNodeStage, StereoMessages
from stereo_nerf_ros.node_runtime import NodeRuntime, spin_node
from stereo_nerf_ros.node_specs import SPECS

SPEC = SPECS[names.DEPTH_PRIOR]


class DepthPriorNode(Node):
    """Subscribes to the raw stereo pair and camera_info, publishes the depth prior of each processed set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SPEC.name, **kwargs)
        self.runtime = NodeRuntime(self, SPEC, self._process)
        self.config = self.runtime.config
        self.stage = DepthPriorNodeStage(self.runtime.config, self.runtime.classes)
        self.runtime.create_publishers()
        self.topic_names = self.runtime.synchronise(names.RAW_INPUTS, approximate=True)
        self._worker = self.runtime.start_worker()
        self.get_logger().info(
            f"depth prior on {self.topic_names[0]} + {self.topic_names[1]} (slop {self.config.sync.slop_s} s, "
            f"queue {self.config.sync.queue_size}), depth range "
            f"{self.config.depth_prior.min_depth_m}-{self.config.depth_prior.max_depth_m} m"
        )

    def _process(self, item: tuple[Any, ...]) -> dict[str, Any]:
        return self.stage.process(StereoMessages(*item), self.topic_names)  # type: ignore[arg-type]

    def summary(self) -> str:
        """Counts of received, processed, dropped and failed stereo sets."""
        return self.runtime.summary()

    def shutdown_stage(self) -> None:
        """Nothing to release."""


def main(args: list[str] | None = None) -> int:
    """Console script ``depth_prior_node``: runs the node until shutdown; exit code 2 on invalid parameters."""
    return spin_node(DepthPriorNode, SPEC.name, args)


if __name__ == "__main__":
    raise SystemExit(main())
