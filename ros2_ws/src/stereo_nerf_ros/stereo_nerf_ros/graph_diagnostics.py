"""What the graph's nodes say on /diagnostics, as a test or a benchmark reads it.

Every node publishes one ``diagnostic_msgs/DiagnosticStatus`` a second (:mod:`stereo_nerf_ros.node_runtime`),
named with its fully qualified name (``/depth_prior``, ``/cart1/depth_prior``). The counters in it
(``received``, ``processed``, ``dropped``, ``failed``) are cumulative, so a count over a span of time is the
difference of two reports (:meth:`DiagnosticsMonitor.idle`, :meth:`DiagnosticsMonitor.settled`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

COUNTERS = ("received", "processed", "dropped", "failed")
"""The cumulative counters of a node's input sets in its reports."""


@dataclass(frozen=True)
class NodeReport:
    """One node's status as received."""

    level: int
    """0 OK, 1 WARN, 2 ERROR, 3 STALE."""
    message: str
    values: dict[str, str]
    arrived_s: float
    """time.monotonic() when it arrived."""


class DiagnosticsMonitor:
    """Subscribes to /diagnostics and keeps every node's reports."""

    def __init__(self, node: Any) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        self._lock = threading.Lock()
        self._reports: dict[str, list[NodeReport]] = {}
        self.subscription = node.create_subscription(DiagnosticArray, "/diagnostics", self._record, 50)

    def _record(self, msg: Any) -> None:
        now = time.monotonic()
        with self._lock:
            for status in msg.status:
                values = {kv.key: kv.value for kv in status.values}
                report = NodeReport(status.level[0] if status.level else 0, status.message, values, now)
                self._reports.setdefault(status.name, []).append(report)

    def reports(self, node: str) -> list[NodeReport]:
        """Every report of ``node`` (fully qualified name), oldest first."""
        with self._lock:
            return list(self._reports.get(node, []))

    def latest(self, node: str) -> NodeReport | None:
        """The newest report of ``node``, or None before its first."""
        reports = self.reports(node)
        return reports[-1] if reports else None

    def values(self, node: str) -> dict[str, str]:
        """The newest report's values ({} before the first)."""
        report = self.latest(node)
        return {} if report is None else report.values

    def wait_for(
        self, node: str, check: Callable[[dict[str, str]], bool], timeout_s: float = 10.0, *, after_s: float = 0.0
    ) -> dict[str, str]:
        """The values of the first report of ``node`` arriving after ``after_s`` (monotonic) that passes
        ``check``; AssertionError naming the node and its latest values when none does within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            report = self.latest(node)
            if report is not None and report.arrived_s > after_s and check(report.values):
                return report.values
            if time.monotonic() >= deadline:
                raise AssertionError(f"{node}: diagnostics never satisfied the check; latest: {self.values(node)}")
            time.sleep(0.2)

    def idle(self, node: str, timeout_s: float = 30.0) -> dict[str, str]:
        """The values of the first report of ``node`` sent after this call with every set it received worked
        off (the counters to take differences from before sending it more)."""

        def worked_off(values: dict[str, str]) -> bool:
            done = sum(int(values.get(key, 0)) for key in COUNTERS[1:])
            return int(values.get("received", 0)) == done

        return self.wait_for(node, worked_off, timeout_s, after_s=time.monotonic())

    def settled(
        self, node: str, sets: int, *, before: dict[str, str] | None = None, timeout_s: float = 30.0
    ) -> dict[str, int]:
        """The node's counters since ``before`` (a report's values; None: since it started) once it has received
        at least ``sets`` more input sets and worked every one off: processed, dropped (drop-oldest queue) or
        failed."""
        base = {key: int((before or {}).get(key, 0)) for key in COUNTERS}

        def since(values: dict[str, str]) -> dict[str, int]:
            return {key: int(values.get(key, 0)) - base[key] for key in COUNTERS}

        def worked_off(values: dict[str, str]) -> bool:
            counts = since(values)
            done = counts["processed"] + counts["dropped"] + counts["failed"]
            return counts["received"] >= sets and done == counts["received"]

        return since(self.wait_for(node, worked_off, timeout_s))
