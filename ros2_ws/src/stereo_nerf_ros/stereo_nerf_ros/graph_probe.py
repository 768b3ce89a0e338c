"""A probe of the live graph: subscribes to every output of every node and records what arrives, and when.

Used by the integration test and ``benchmarks/live_graph.py``. Subscriptions are reliable with a deep
history, so the probe itself never loses a message the graph delivered: every loss it sees is the graph's.
Each arrival is recorded with its topic, type, header stamp, frame_id and the monotonic time it arrived
(compare with :class:`~stereo_nerf_ros.bag_player.PublishedMessage.sent_s`, the same clock when the player
runs in the same process). Messages of the topics in ``keep`` are deserialised and kept for content checks;
the others are received serialised and only their header is read, so the probe costs the graph little CPU.
Every output type has a std_msgs/Header (TFMessage is skipped where tf2_msgs is missing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from stereo_nerf_core.io.cdr import cdr_header
from stereo_nerf_core.io.messages import stamp_ns
from stereo_nerf_core.pipeline.node_topics import resolve
from stereo_nerf_ros.node_specs import SPECS, TF, NodeSpec, message_class
from stereo_nerf_ros.ros_messages import tf_unavailable

PROBE_DEPTH = 200


@dataclass(frozen=True)
class Arrival:
    """One message the probe received."""

    node: str
    topic: str
    """Absolute topic."""
    type_name: str
    stamp_ns: int
    frame_id: str
    arrived_s: float
    """time.monotonic() when the callback ran."""
    msg: Any = None
    """The message itself, for the topics the probe keeps."""


def output_topics(
    namespace: str = "", specs: Collection[NodeSpec] = tuple(SPECS.values())
) -> dict[str, tuple[str, str]]:
    """Absolute output topic -> (publishing node, message type) of the graph in ``namespace``."""
    found: dict[str, tuple[str, str]] = {}
    for spec in specs:
        for topic, type_name in spec.outputs.items():
            found.setdefault(resolve(spec.name, topic, namespace), (spec.name, type_name))
    return found


class GraphProbe:
    """Subscribes ``node`` (an rclpy Node) to every output of the graph in ``namespace``."""

    def __init__(self, node: Any, *, namespace: str = "", keep: Collection[str] = ()) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

        self.node = node
        self.namespace = namespace
        self.topics = output_topics(namespace)
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._subscriptions = []
        for topic, (publisher, type_name) in self.topics.items():
            if type_name == TF and tf_unavailable():
                continue
            durable = topic.endswith("/tf_static")
            qos = QoSProfile(
                depth=PROBE_DEPTH,
                reliability=ReliabilityPolicy.RELIABLE,
                durability=DurabilityPolicy.TRANSIENT_LOCAL if durable else DurabilityPolicy.VOLATILE,
            )
            kept = topic in keep
            callback = self._recorder(publisher, topic, type_name, keep=kept)
            self._subscriptions.append(
                node.create_subscription(message_class(type_name), topic, callback, qos, raw=not kept)
            )

    def _recorder(self, node_name: str, topic: str, type_name: str, *, keep: bool) -> Any:
        def record(msg: Any) -> None:
            arrived = time.monotonic()
            if keep:
                stamp, frame_id = stamp_ns(msg.header), str(msg.header.frame_id)
            else:  # serialised: only the header is read
                stamp, frame_id = cdr_header(msg)
            arrival = Arrival(node_name, topic, type_name, stamp, frame_id, arrived, msg if keep else None)
            with self._lock:
                self.arrivals.append(arrival)

        return record

    def on(self, topic: str) -> list[Arrival]:
        """Arrivals on an absolute topic, in order."""
        with self._lock:
            return [a for a in self.arrivals if a.topic == topic]

    def count(self, topic: str) -> int:
        """Messages received on an absolute topic so far."""
        return len(self.on(topic))

    def clear(self) -> None:
        """Forget every arrival (between runs)."""
        with self._lock:
            self.arrivals.clear()
