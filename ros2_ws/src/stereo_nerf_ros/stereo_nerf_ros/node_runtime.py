"""The rclpy glue every node shares (imports rclpy): parameters, inputs, queue, worker, publishers.

A node owns one :class:`NodeRuntime`: it declares and reads the node's parameter groups, builds
the publishers of its :class:`~stereo_nerf_ros.node_specs.NodeSpec`, synchronises inputs with
message_filters (``qos_profile_sensor_data`` given explicitly; ``ApproximateTimeSynchronizer``
with ``sync.slop_s`` / ``sync.queue_size`` for the raw pair, ``TimeSynchronizer`` for sets a node
stamped with one stamp) and parks each complete set in a drop-oldest queue (``nodes.queue_size``).
A worker timer (steady clock, its own callback group, so it also runs on sim time) takes the
oldest set, calls the stage and publishes what it returns. Sets that cannot be processed are
logged with the reason (naming the topic) and skipped; the node keeps running.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from message_filters import ApproximateTimeSynchronizer, Subscriber, TimeSynchronizer
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.logging import get_logger
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.errors import ConfigError, StereoNerfError
from stereo_nerf_core.io import topics
from stereo_nerf_core.pipeline.backpressure import DropOldestQueue
from stereo_nerf_core.pipeline.node_topics import COMPRESSED_SUFFIX, RAW_INPUTS, raw_inputs
from stereo_nerf_ros.node_specs import COMPRESSED_IMAGE, NodeSpec, message_class
from stereo_nerf_ros.parameters import declare_pipeline_parameters, read_pipeline_config
from stereo_nerf_ros.ros_messages import rclpy_message_classes

WORKER_PERIOD_S = 0.005
"""How often the worker looks for a waiting set."""
OUTPUT_QUEUE_DEPTH = 5
"""Reliable, volatile output publishers: compatible with reliable and best-effort subscribers."""
TF_QOS = QoSProfile(depth=100)
STATIC_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)


class NodeRuntime:
    """Parameters, inputs, queue, worker and publishers of one node (see the module docstring)."""

    def __init__(self, node: Any, spec: NodeSpec, process: Callable[[tuple[Any, ...]], dict[str, Any]]) -> None:
        self.node = node
        self.spec = spec
        self.process = process
        declare_pipeline_parameters(node, spec.parameter_groups)
        self.config: PipelineConfig = read_pipeline_config(
            lambda name: node.get_parameter(name).value, spec.parameter_groups
        )
        self.classes = rclpy_message_classes()
        self.queue: DropOldestQueue[tuple[Any, ...]] = DropOldestQueue(
            self.config.nodes.queue_size, name=f"{spec.name} input queue"
        )
        self.processed = 0
        self.failed = 0
        self.input_group = MutuallyExclusiveCallbackGroup()
        """Subscriptions; the worker has its own group, so inputs are parked while it works."""
        self.worker_group = MutuallyExclusiveCallbackGroup()
        self._syncs: list[Any] = []
        self.publishers: dict[str, Any] = {}

    def create_publishers(self) -> None:
        """One publisher per output of the spec (/tf_static latched)."""
        output_qos = QoSProfile(depth=OUTPUT_QUEUE_DEPTH)
        for topic, type_name in self.spec.outputs.items():
            qos = STATIC_QOS if topic == topics.TF_STATIC else TF_QOS if topic == topics.TF else output_qos
            self.publishers[topic] = self.node.create_publisher(message_class(type_name), topic, qos)

    def start_worker(self) -> Any:
        """The steady-clock timer that works the queue off."""
        return self.node.create_timer(
            WORKER_PERIOD_S,
            self.work,
            callback_group=self.worker_group,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )

    def input_topics(self, names: Sequence[str]) -> tuple[str, ...]:
        """Subscribed names: the raw images on ``<topic>/compressed`` with ``nodes.compressed_input``."""
        raw = dict(zip(RAW_INPUTS, raw_inputs(compressed=self.config.nodes.compressed_input), strict=True))
        return tuple(raw.get(name, name) for name in names)

    def synchronise(self, names: Sequence[str], *, approximate: bool) -> tuple[str, ...]:
        """Subscribe to ``names`` (sensor-data QoS), park complete sets; returns the resolved topic names."""
        subscribed = self.input_topics(names)
        types = []
        for name, topic in zip(names, subscribed, strict=True):
            type_name = self.spec.inputs[name]
            types.append(message_class(COMPRESSED_IMAGE if topic.endswith(COMPRESSED_SUFFIX) else type_name))
        inputs = [
            Subscriber(self.node, kind, topic, qos_profile=qos_profile_sensor_data, callback_group=self.input_group)
            for kind, topic in zip(types, subscribed, strict=True)
        ]
        size = self.config.sync.queue_size
        sync = (
            ApproximateTimeSynchronizer(inputs, queue_size=size, slop=self.config.sync.slop_s)
            if approximate
            else TimeSynchronizer(inputs, size)
        )
        sync.registerCallback(lambda *msgs: self.park(tuple(msgs)))
        self._syncs.append((inputs, sync))
        return tuple(self.node.resolve_topic_name(topic) for topic in subscribed)

    def park(self, item: tuple[Any, ...]) -> None:
        """Queue a complete set (runs under message_filters' lock: never raises, never waits)."""
        if self.queue.put(item) is not None:
            self.node.get_logger().warning(
                f"{self.spec.name} is slower than its input: dropped {self.queue.dropped} of "
                f"{self.queue.received} input sets so far (the oldest waiting set goes first)",
                throttle_duration_sec=5.0,
            )

    def work(self) -> None:
        """Process the oldest waiting set and publish its outputs."""
        item = self.queue.take()
        if item is None:
            return
        try:
            outputs = self.process(item)
        except (StereoNerfError, ValueError) as error:
            self.failed += 1
            self.node.get_logger().error(
                f"skipped an input set ({self.failed} so far): {error}", throttle_duration_sec=1.0
            )
            return
        self.publish(outputs)
        self.processed += 1

    def publish(self, outputs: dict[str, Any]) -> None:
        """Publish stage outputs on their topics."""
        for topic, msg in outputs.items():
            self.publishers[topic].publish(msg)

    def summary(self) -> str:
        """Counts of received, processed, dropped and failed input sets."""
        return (
            f"{self.queue.received} input sets received, {self.processed} processed, "
            f"{self.queue.dropped} dropped (processing too slow), {self.failed} failed"
        )


def spin_node(make_node: Callable[[], Any], name: str, args: list[str] | None, *, threads: int = 3) -> int:
    """Run a node until shutdown; exit code 2 when its parameters are invalid."""
    rclpy.init(args=args)
    try:
        node = make_node()
    except (ConfigError, ParameterException) as error:
        get_logger(name).fatal(f"invalid parameters: {error}")
        rclpy.try_shutdown()
        return 2
    executor = MultiThreadedExecutor(num_threads=threads)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.get_logger().info(node.summary())
        node.shutdown_stage()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
