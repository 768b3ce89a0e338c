"""depth_prior node: stereo_frontend's rectified pair -> dense depth prior, confidence, mask, camera_info.

A thin rclpy shell around :class:`stereo_nerf_core.pipeline.node_stages.DepthPriorNodeStage`. Outputs
(``/depth_prior/...`` by default), stamped with the pair's stamp, in the rectified left optical frame:
``~/depth`` (32FC1, metres, NaN = none), ``~/confidence`` (32FC1 in [0, 1]), ``~/mask`` (mono8, 255 =
usable) and ``~/camera_info`` (the rectified left camera the depth is registered to). Backpressure: the
synchroniser only parks the newest set in a drop-oldest queue (``nodes.queue_size``); a worker thread
computes it (:mod:`stereo_nerf_ros.node_runtime`).
"""

from __future__ import annotations

import os
from typing import Any

import cv2
from rclpy.node import Node

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import DepthPriorNodeStage, depth_prior_threads
from stereo_nerf_ros.node_runtime import NodeRuntime, spin_node
from stereo_nerf_ros.node_specs import SPECS

SPEC = SPECS[names.DEPTH_PRIOR]


class DepthPriorNode(Node):
    """Subscribes to the rectified pair and its camera_info, publishes the depth prior of each processed set."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SPEC.name, **kwargs)
        self.runtime = NodeRuntime(self, SPEC, self._process, reconfigure=self._reconfigure)
        self.config = self.runtime.config
        cv2.setNumThreads(depth_prior_threads(self.config.depth_prior.threads, os.cpu_count() or 1))
        self.stage = DepthPriorNodeStage(self.runtime.config, self.runtime.classes)
        self.runtime.create_publishers()
        self.topic_names = self.runtime.synchronise(names.DEPTH_PRIOR_INPUTS, approximate=False)
        self.runtime.start_worker()
        self.get_logger().info(
            f"depth prior on {self.topic_names[0]} + {self.topic_names[1]}, depth range "
            f"{self.config.depth_prior.min_depth_m}-{self.config.depth_prior.max_depth_m} m"
        )

    def _reconfigure(self, config: PipelineConfig) -> None:
        self.stage.reconfigure(config)

    def _process(self, item: tuple[Any, ...]) -> dict[str, Any]:
        return self.stage.process(*item, topic_names=self.topic_names)

    def summary(self) -> str:
        """Counts of received, processed, dropped and failed stereo sets."""
        return self.runtime.summary()

    def shutdown_stage(self) -> None:
        """Stop the worker."""
        self.runtime.stop_worker()


def main(args: list[str] | None = None) -> int:
    """Console script ``depth_prior_node``: runs the node until shutdown; exit code 2 on invalid parameters."""
    return spin_node(DepthPriorNode, SPEC.name, args)


if __name__ == "__main__":
    raise SystemExit(main())
