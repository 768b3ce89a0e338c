"""matcher node: rectified pair + rectified camera_infos -> sparse stereo points (PointCloud2, xyz + rgb).

A thin rclpy shell around :class:`stereo_nerf_core.pipeline.node_stages.MatcherStage`; inputs are
stereo_frontend's outputs (exact stamps), see :mod:`stereo_nerf_core.pipeline.node_topics`. A background
node (visualisation only, nothing downstream needs it): it runs at ``nodes.background_niceness`` and
matches the newest pair it can, dropping (and counting) what it cannot keep up with.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import MatcherStage
from stereo_nerf_ros.node_runtime import NodeRuntime, spin_node
from stereo_nerf_ros.node_specs import SPECS

SPEC = SPECS[names.MATCHER]


class MatcherNode(Node):
    """Matches and triangulates each rectified pair."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SPEC.name, **kwargs)
        self.runtime = NodeRuntime(self, SPEC, self._process, reconfigure=self._reconfigure)
        self.stage = MatcherStage(self.runtime.config, self.runtime.classes)
        self.runtime.create_publishers()
        self.topic_names = self.runtime.synchronise(names.MATCHER_INPUTS, approximate=False)
        self.runtime.start_worker(idle=True)
        self.get_logger().info(f"matching {self.topic_names[0]} + {self.topic_names[1]}")

    def _reconfigure(self, config: PipelineConfig) -> None:
        self.stage.reconfigure(config)

    def _process(self, item: tuple[Any, ...]) -> dict[str, Any]:
        return self.stage.process(*item, topic_names=self.topic_names)

    def summary(self) -> str:
        """Counts of the node's input sets."""
        return self.runtime.summary()

    def shutdown_stage(self) -> None:
        """Stop the worker."""
        self.runtime.stop_worker()


def main(args: list[str] | None = None) -> int:
    """Console script ``matcher_node``."""
    return spin_node(MatcherNode, SPEC.name, args)


if __name__ == "__main__":
    raise SystemExit(main())
