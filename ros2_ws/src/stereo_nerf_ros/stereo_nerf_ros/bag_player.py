"""bag_player node: plays a recorded bag into the live graph over rclpy, at its recorded pace, stamps kept.

It needs only rosbags (mcap or sqlite3 rosbag2 folders, cut-off mcap recordings too), so it runs where
``ros2 bag play`` (rosbag2) is missing, and the launch file's ``bag:=`` starts it. Each message goes out as
recorded: the bag's CDR bytes are published as they are (rclpy's serialised publish), never re-encoded.

* Timing: message i is published ``(log_time_i - log_time_0) / rate`` seconds after the start.
* Names: a bag topic ``/a/b`` is published on the relative name ``a/b``, so the player's namespace
  (``__ns``, or the launch file's ``namespace``) moves the recording under it like the pipeline;
  ``/tf``, ``/tf_static`` and ``/clock`` stay absolute.
* QoS: reliable, depth 10 (a driver's default, received by best-effort and reliable subscribers alike);
  ``/tf_static`` transient local.
* Types that are not installed (tf2_msgs on the PyPI wheels) are skipped, said once per topic.
* ``max_frames`` stops before the left image after that many; ``clock`` also publishes the bag time on
  ``/clock`` (for ``use_sim_time``).

Parameters: ``bag`` (folder or file), ``rate`` (1.0), ``max_frames`` (0: all), ``clock`` (false),
``start_delay_s`` (30.0: the longest wait for a subscriber to the raw images before playing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import RawBagMessage, bag_topics, read_raw_messages
from stereo_nerf_core.io.cdr import cdr_header, with_stamp
from stereo_nerf_core.io.errors import BagError
from stereo_nerf_ros.node_specs import message_class

ABSOLUTE_TOPICS = (topics.TF, topics.TF_STATIC, "/clock")
PLAYER_QOS_DEPTH = 10


@dataclass(frozen=True)
class PublishedMessage:
    """One message the player sent: bag topic, header stamp (None without a header) and when (monotonic s)."""

    topic: str
    stamp_ns: int | None
    sent_s: float


def published_name(bag_topic: str) -> str:
    """The name a bag topic is published on: relative (``/a/b`` -> ``a/b``) except /tf, /tf_static, /clock."""
    return bag_topic if bag_topic in ABSOLUTE_TOPICS else bag_topic.lstrip("/")


def frames_slice(messages: Iterable[RawBagMessage], max_frames: int | None) -> Iterable[RawBagMessage]:
    """``messages`` up to (not including) the left image after ``max_frames`` of them (all when None)."""
    left_images = 0
    for message in messages:
        if message.topic == topics.LEFT_IMAGE:
            if max_frames is not None and left_images >= max_frames:
                return
            left_images += 1
        yield message


class BagPlayer:
    """Publishes a bag through ``node`` (an rclpy Node); see the module docstring."""

    def __init__(
        self,
        node: Any,
        bag: Path | str,
        *,
        rate: float = 1.0,
        max_frames: int | None = None,
        clock: bool = False,
        on_publish: Callable[[PublishedMessage], None] | None = None,
    ) -> None:
        if rate <= 0:
            raise StereoNerfError(f"bag_player: parameter rate must be > 0, got {rate}")
        self.node = node
        self.bag = Path(bag)
        if not self.bag.exists():
            raise BagError(f"{self.bag}: no such bag (parameter bag)")
        self.rate = rate
        self.max_frames = max_frames
        self.on_publish = on_publish
        self._publishers: dict[str, Any] = {}
        self._classes: dict[str, Any] = {}
        self._clock = node.create_publisher(message_class("rosgraph_msgs/msg/Clock"), "/clock", 10) if clock else None
        self.sent = 0
        for topic, summary in bag_topics(self.bag).items():
            self._advertise(topic, summary.msgtype)

    def wait_for_subscribers(self, topics: Iterable[str], timeout_s: float) -> bool:
        """Wait until each of the bag's ``topics`` has a subscriber (so the first messages are not lost)."""
        deadline = time.monotonic() + timeout_s
        wanted = [self._publishers[t] for t in topics if t in self._publishers]
        while any(publisher.get_subscription_count() == 0 for publisher in wanted):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def play(self, stop: threading.Event | None = None, *, offset_ns: int = 0) -> int:
        """Publish the bag once at its pace; returns the number of messages sent (stops early on ``stop``).

        ``offset_ns`` moves every header stamp (a bag looped with increasing stamps); headerless messages
        (/tf) keep theirs.
        """
        start: float | None = None
        first_ns = 0
        for message in frames_slice(read_raw_messages(self.bag), self.max_frames):
            if stop is not None and stop.is_set():
                break
            if start is None:
                start, first_ns = time.monotonic(), message.log_time_ns
            due = start + (message.log_time_ns - first_ns) / 1e9 / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                if stop is None:
                    time.sleep(delay)
                elif stop.wait(delay):
                    break
            self._publish(message, offset_ns)
        return self.sent

    def _publish(self, message: RawBagMessage, offset_ns: int = 0) -> None:
        publisher = self._publishers.get(message.topic)
        if publisher is None:
            return
        if self._clock is not None:
            self._clock.publish(self._clock.msg_type(clock=_time(message.log_time_ns + offset_ns)))
        has_header = hasattr(self._classes[message.topic], "header")
        data = bytes(message.data)
        stamp = cdr_header(data)[0] + offset_ns if has_header else None
        if offset_ns and stamp is not None:
            data = with_stamp(data, stamp)
        sent_s = time.monotonic()
        publisher.publish(data)
        self.sent += 1
        if self.on_publish is not None:
            self.on_publish(PublishedMessage(message.topic, stamp, sent_s))

    def _advertise(self, topic: str, msgtype: str) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile

        try:
            cls = message_class(msgtype)
        except (ImportError, AttributeError) as error:
            self.node.get_logger().warning(
                f"bag_player: {topic} is not played: its type {msgtype} is not installed ({error})"
            )
            return
        durability = DurabilityPolicy.TRANSIENT_LOCAL if topic == topics.TF_STATIC else DurabilityPolicy.VOLATILE
        self._classes[topic] = cls
        self._publishers[topic] = self.node.create_publisher(
            cls, published_name(topic), QoSProfile(depth=PLAYER_QOS_DEPTH, durability=durability)
        )


def _time(stamp: int) -> Any:
    from builtin_interfaces.msg import Time

    return Time(sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000)


def main(args: list[str] | None = None) -> int:
    """Console script ``bag_player``: ``--ros-args -p bag:=FOLDER [-p rate:=2.0] [-p max_frames:=N]``."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = rclpy.create_node("bag_player")
    bag = node.declare_parameter("bag", "").value
    rate = node.declare_parameter("rate", 1.0).value
    max_frames = node.declare_parameter("max_frames", 0).value
    clock = node.declare_parameter("clock", False).value
    delay = node.declare_parameter("start_delay_s", 30.0).value
    try:
        player = BagPlayer(node, bag, rate=rate, max_frames=max_frames or None, clock=clock)
        player.wait_for_subscribers([topics.LEFT_IMAGE, topics.RIGHT_IMAGE], delay)
        sent = player.play()
        node.get_logger().info(f"played {sent} messages of {bag} at {rate}x")
        code = 0
    except StereoNerfError as error:
        node.get_logger().fatal(str(error))
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        code = 0
    node.destroy_node()
    rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
