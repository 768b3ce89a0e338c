"""Bad input of one node, on the rclpy side of :mod:`stereo_nerf_core.pipeline.input_watch`.

A node's :class:`~stereo_nerf_ros.node_runtime.NodeRuntime` owns one :class:`InputGuard`. It sees every message
of a synchronised set before the synchroniser does (backward stamps: the synchroniser forgets what it held from
after the new stamp; bursts), checks once a second for a driver topic that stays silent while its partners
arrive, and turns what a callback or the stage cannot take into a fault: logged once per cause and topic (then
throttled), counted for /diagnostics, never the end of the node.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.pipeline.input_watch import (
    BURST,
    SAME_RESTART_NS,
    SILENT_PARTNER,
    STAMPS_BACKWARDS,
    Burst,
    FaultLog,
    StampJump,
    StampWatch,
    stale_after,
)

SILENCE_S = 2.0
"""A driver topic with nothing for this long while its partners arrive is a silent partner (logged, counted)."""


def error_cause(error: Exception, default_topic: str) -> tuple[str, str]:
    """(cause, topic) of an error: the io errors carry both; others are named by their class."""
    return getattr(error, "cause", type(error).__name__), getattr(error, "topic", None) or default_topic


class InputGuard:
    """Faults of one node's inputs (see the module docstring); ``name`` stands for the node in causes without a
    topic, ``queue_capacity`` is said in a burst's line."""

    def __init__(self, logger: Any, *, name: str, slop_s: float, queue_capacity: int) -> None:
        self.logger = logger
        self.name = name
        self.slop_ns = int(1e9 * slop_s)
        self.queue_capacity = queue_capacity
        self.faults = FaultLog()
        self.watches: list[StampWatch] = []
        self._lock = threading.Lock()
        self._restart_ns: int | None = None

    def watch(self, topics: tuple[str, ...], *, driver: bool) -> StampWatch:
        """A watch over one synchronised set; silent partners only among the driver's topics (the graph's own
        come from nodes of different latencies)."""
        watch = StampWatch(topics, silence_s=SILENCE_S if driver else float("inf"))
        self.watches.append(watch)
        return watch

    def watcher(self, watch: StampWatch, topic: str, synchroniser: Callable[[], Any]) -> Callable[[Any], None]:
        """The callback that sees each message of ``topic`` before ``synchroniser()`` (message_filters') does."""

        def watch_message(msg: Any) -> None:
            stamp = int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)
            for event in watch.arrived(topic, stamp, time.monotonic()):
                if isinstance(event, StampJump):
                    sync = synchroniser()
                    with sync.lock:  # forget what the restarted stream will never match
                        for queue in sync.queues:
                            for key in stale_after(queue, stamp, self.slop_ns):
                                del queue[key]
                    if event.first and self._new_restart(stamp):  # once per restart, not per topic or set
                        detail = (
                            f"back by {event.back_s:.3f} s (a restarted bag or driver?); the synchroniser "
                            "forgot what it held from after the new stamp"
                        )
                        self.fault(STAMPS_BACKWARDS, topic, detail, lasting=False)
                elif isinstance(event, Burst):
                    detail = (
                        f"{event.rate_hz:.0f} Hz, {event.factor:.0f} times its usual rate; the oldest waiting sets "
                        f"are dropped when the queue of {self.queue_capacity} is full"
                    )
                    self.fault(BURST, topic, detail, lasting=False)

        return watch_message

    def _new_restart(self, stamp_ns: int) -> bool:
        """Whether a backward jump to ``stamp_ns`` is not the restart another input set of this node just saw."""
        with self._lock:
            same = self._restart_ns is not None and abs(stamp_ns - self._restart_ns) <= SAME_RESTART_NS
            self._restart_ns = stamp_ns
        return not same

    def fault(self, cause: str, topic: str, detail: str, *, level: str = "warning", lasting: bool = True) -> None:
        """Count one fault; logged the first time per cause and topic, then throttled."""
        with self._lock:
            line = self.faults.record(cause, topic, detail, time.monotonic(), lasting=lasting)
        if line is None:
            return
        if level == "error":  # one call site per severity: rclpy refuses a call site that changes it
            self.logger.error(line)
        else:
            self.logger.warning(line)

    def failed(self, error: Exception, what: str) -> None:
        """A set or message that could not be taken (``what`` says what became of it)."""
        cause, topic = error_cause(error, self.name)
        self.fault(cause, topic, f"{what}: {error}", level="error")

    def recovered(self) -> None:
        """Good input was processed: say which faults are over."""
        with self._lock:
            lines = self.faults.recovered()
        for line in lines:
            self.logger.info(line)

    def guarded(self, callback: Callable[..., object], topic: str | None = None) -> Callable[..., None]:
        """``callback`` run on the executor's thread: what it cannot take is a fault, never the end of the node."""

        def guarded(*msgs: Any) -> None:
            try:
                callback(*msgs)
            except (StereoNerfError, ValueError) as error:
                cause, where = error_cause(error, topic or self.name)
                self.fault(cause, where, f"ignored: {error}", level="error")

        return guarded

    def check_partners(self) -> None:
        """Log (once per episode) a driver topic that stays silent while its partners arrive, and its return."""
        now = time.monotonic()
        for watch in self.watches:
            began, ended = watch.check_silence(now)
            for topic, quiet_s in began:
                others = ", ".join(t for t in watch.topics if t not in watch.silent)
                last = f"its last message {quiet_s:.1f} s ago" if quiet_s != float("inf") else "no message yet"
                detail = f"nothing while {others} arrive ({last}); their sets wait and are dropped unmatched"
                self.fault(SILENT_PARTNER, topic, detail)
            for topic in ended:
                with self._lock:
                    line = self.faults.end(SILENT_PARTNER, topic)
                if line is not None:
                    self.logger.info(line)

    def report(self) -> tuple[dict[str, str], int, tuple[str, ...]]:
        """For /diagnostics (after :meth:`check_partners`): fault counts and input rates as key/values, the
        total of faults, and the silent topics."""
        now = time.monotonic()
        with self._lock:
            values = {f"faults: {key}": str(count) for key, count in self.faults.counts().items()}
            total = self.faults.total
        for watch in self.watches:
            values.update({f"rate_hz: {topic}": f"{rate:.1f}" for topic, rate in watch.rates_hz(now).items()})
        silent = tuple(sorted(topic for watch in self.watches for topic in watch.silent))
        return values, total, silent
