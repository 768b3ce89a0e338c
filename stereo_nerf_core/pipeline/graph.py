"""The node graph without ROS: the stages wired exactly like ``pipeline.launch.py`` wires the nodes.

:class:`StageGraph` feeds bag messages (or any messages with ROS 2 field names) to the stages the
rclpy nodes wrap, routes every output message to the stages subscribed to its topic (topic names
as the launch file resolves them with an empty namespace, see
:mod:`~stereo_nerf_core.pipeline.node_topics`) and records what each node publishes. Inputs that
a node synchronises go through :class:`StampSync` (approximate for the raw pair, with ``sync.slop_s``
and ``sync.queue_size``; exact for the stamps a node copies from its input) and then the node's
drop-oldest queue (``nodes.queue_size``). The graph works every queue off at once, so nothing is
dropped here; a node that falls behind drops and counts (see :mod:`backpressure`).

Training: the rclpy trainer trains on its own thread; a replay asks for ``train_steps_per_keyframe``
synchronous steps after each keyframe instead, so a replay gives the same outputs every time.
Periodic trainer outputs are paced by the stamps of the tracked frames.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.frontend.sync import StampSync
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES, BagMessage, read_messages
from stereo_nerf_core.io.messages import MessageClasses, stamp_ns
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.backpressure import DropOldestQueue
from stereo_nerf_core.pipeline.node_stages import (
    DepthPriorNodeStage,
    MatcherStage,
    StereoFrontendStage,
    StereoMessages,
)
from stereo_nerf_core.pipeline.tracker_stage import TrackerStage
from stereo_nerf_core.pipeline.trainer_stage import TrainerStage

BAG_TOPICS = (
    *(names.resolve("", topic) for topic in (*names.RAW_INPUTS, *names.raw_inputs(compressed=True)[:2])),
    topics.TF,
    topics.TF_STATIC,
    topics.GROUND_TRUTH_POSE,
)
"""What a replay reads from a bag: the driver's topics (images raw or compressed) and the robot's poses."""


TRACKER_PRIORS = "tracker priors"
"""The tracker's second synchroniser (depth prior messages), next to its image one."""


@dataclass(frozen=True)
class Published:
    """One message a node published: the node, the absolute topic and the message."""

    node: str
    topic: str
    msg: Any


@dataclass
class GraphRun:
    """What a replay through the graph did."""

    published: list[Published] = field(default_factory=list)
    fed: Counter[str] = field(default_factory=Counter)
    """Input messages per topic."""
    failures: dict[str, list[str]] = field(default_factory=dict)
    """Node -> descriptions of input sets it could not process (the node would log and skip them)."""

    def on(self, topic: str) -> list[Any]:
        """Messages published on ``topic``, in order."""
        return [p.msg for p in self.published if p.topic == topic]

    def counts(self) -> Counter[str]:
        """Messages per published topic."""
        return Counter(p.topic for p in self.published)


class StageGraph:
    """stereo_frontend, matcher, depth_prior, tracker and trainer, wired like the launch file."""

    def __init__(
        self,
        config: PipelineConfig,
        classes: MessageClasses = ROSBAGS_CLASSES,
        *,
        device: str = "auto",
        train_steps_per_keyframe: int = 0,
    ) -> None:
        self.config = config
        self.classes = classes
        self.train_steps_per_keyframe = train_steps_per_keyframe
        self.frontend = StereoFrontendStage(config, classes)
        self.matcher = MatcherStage(config, classes)
        self.depth_prior = DepthPriorNodeStage(config, classes)
        self.tracker = TrackerStage(config, classes)
        self.tracker.pose_timeout_s = 0.0  # one thread feeds everything: a late transform cannot arrive meanwhile
        self.trainer = TrainerStage(config, classes, device=device)
        self.trainer.configure()
        slop, size = round(config.sync.slop_s * 1e9), config.sync.queue_size
        self.raw_inputs = _absolute(names.raw_inputs(compressed=config.nodes.compressed_input))
        self.syncs: dict[str, StampSync[Any]] = {
            names.STEREO_FRONTEND: StampSync(self.raw_inputs, slop_ns=slop, queue_size=size),
            names.DEPTH_PRIOR: StampSync(_absolute(names.DEPTH_PRIOR_INPUTS), slop_ns=0, queue_size=size),
            names.MATCHER: StampSync(_absolute(names.MATCHER_INPUTS), slop_ns=0, queue_size=size),
            names.TRAINER: StampSync(_absolute(names.TRAINER_FRAME_INPUTS), slop_ns=0, queue_size=size),
            TRACKER_PRIORS: StampSync(_absolute(names.TRACKER_PRIOR_INPUTS), slop_ns=0, queue_size=size),
            names.TRACKER: StampSync(_absolute(names.TRACKER_INPUTS), slop_ns=0, queue_size=size),
        }
        """Synchronised inputs per node; the trainer's frames come before the tracker's poses of them."""
        self.queues: dict[str, DropOldestQueue[tuple[Any, ...]]] = {
            node: DropOldestQueue(config.nodes.queue_size, name=f"{node} input queue") for node in self.syncs
        }
        self.workers: dict[str, Callable[[tuple[Any, ...]], dict[str, Any]]] = {
            names.STEREO_FRONTEND: lambda s: self.frontend.process(StereoMessages(*s), self.raw_inputs),
            names.DEPTH_PRIOR: lambda s: self.depth_prior.process(*s),
            names.MATCHER: lambda s: self.matcher.process(*s),
            names.TRAINER: self._trainer_frame,
            TRACKER_PRIORS: self._tracker_prior,
            names.TRACKER: self._track,
        }
        self.run = GraphRun()

    # -- routing -------------------------------------------------------------------------------
    def feed(self, topic: str, msg: Any) -> None:
        """Deliver one input message (from the driver or a bag) and everything it sets off."""
        self.run.fed[topic] += 1
        self._deliver(topic, msg)

    def _deliver(self, topic: str, msg: Any) -> None:
        ready: list[str] = []
        for node, sync in self.syncs.items():
            if topic in sync.topics:
                complete = sync.push(topic, stamp_ns(msg.header), msg)
                if complete is not None:
                    self.queues[node].put(complete.items)
                    ready.append(node)
        self._side_inputs(topic, msg)
        for node in ready:
            self._drain(node)

    def _side_inputs(self, topic: str, msg: Any) -> None:
        source = self.config.tracking.pose_source
        if topic == names.resolve("", names.RAW_LEFT_INFO):
            self.tracker.accept_raw_camera_info(msg, topic)
        elif topic in (topics.TF, topics.TF_STATIC) and source == "tf":
            self.tracker.accept_tf(msg, static=topic == topics.TF_STATIC)
        elif topic == names.resolve("", names.GROUND_TRUTH_POSE) and source == "ground_truth":
            self.tracker.accept_pose(msg)
        elif topic == names.resolve(names.TRACKER, names.KEYFRAME_POSE):
            if self.trainer.accept_keyframe_pose(msg) and self.train_steps_per_keyframe > 0:
                assert self.trainer.trainer is not None
                self.trainer.trainer.train(max_steps=self.train_steps_per_keyframe)
        elif topic == names.resolve(names.TRACKER, names.POSE):
            self.trainer.accept_pose(msg)
            for outputs in self.trainer.outputs_due(stamp_ns(msg.header)):
                self._publish(names.TRAINER, outputs)

    def _drain(self, node: str) -> None:
        queue = self.queues[node]
        while (item := queue.take()) is not None:
            try:
                outputs = self.workers[node](item)
            except (StereoNerfError, ValueError) as error:
                self.run.failures.setdefault(node, []).append(str(error))
                continue
            self._publish(node, outputs)

    def _publish(self, node: str, outputs: dict[str, Any]) -> None:
        resolved = [(names.resolve(node, topic), msg) for topic, msg in outputs.items()]
        self.run.published.extend(Published(node, topic, msg) for topic, msg in resolved)
        for topic, msg in resolved:
            self._deliver(topic, msg)

    def _tracker_prior(self, inputs: tuple[Any, ...]) -> dict[str, Any]:
        self.tracker.accept_prior(*inputs)
        return {}

    def _track(self, inputs: tuple[Any, ...]) -> dict[str, Any]:
        outputs = self.tracker.track(*inputs)
        if outputs is None:  # a keyframe: its prior came before (depth_prior's queue is worked off first)
            outputs = self.tracker.finish(self.tracker.wait_prior(stamp_ns(inputs[0].header), 0.0))
        return outputs

    def _trainer_frame(self, inputs: tuple[Any, ...]) -> dict[str, Any]:
        self.trainer.accept_frame(*inputs)
        return {}

    # -- replay --------------------------------------------------------------------------------
    def replay(self, messages: Iterable[BagMessage], *, max_frames: int | None = None) -> GraphRun:
        """Feed messages in log order; stops before the left image after ``max_frames`` of them."""
        for message in messages:
            left = self.raw_inputs[0]
            full = max_frames is not None and self.run.fed[left] >= max_frames
            if message.topic == left and full:
                break
            self.feed(message.topic, message.msg)
        return self.run


def _absolute(relative: tuple[str, ...]) -> tuple[str, ...]:
    """Input names as the launch file's empty namespace resolves them (``a/b`` -> ``/a/b``)."""
    return tuple(names.resolve("", topic) for topic in relative)


def replay_bag(
    bag: Path | str,
    config: PipelineConfig,
    *,
    max_frames: int | None = None,
    device: str = "auto",
    train_steps_per_keyframe: int = 1,
) -> GraphRun:
    """A bag through a fresh :class:`StageGraph` (rosbags' message classes)."""
    graph = StageGraph(config, device=device, train_steps_per_keyframe=train_steps_per_keyframe)
    try:
        return graph.replay(read_messages(bag, BAG_TOPICS), max_frames=max_frames)
    finally:
        graph.trainer.cleanup()
