"""A node's health, judged once a second from its counters: what ``/diagnostics`` carries.

Levels follow diagnostic_msgs/DiagnosticStatus: OK (0); WARN (1) when input sets were dropped or failed
since the last report, bad input was seen (a fault of :mod:`.input_watch`), an input of a set is silent, or the
input queue is more than half full (it lags); ERROR (2) when sets are waiting
or keep arriving but none has been processed for ``stall_s`` seconds (it stopped processing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

OK, WARN, ERROR = 0, 1, 2


@dataclass(frozen=True)
class NodeCounters:
    """What a node has done so far (monotonic counts) and its current state."""

    received: int
    processed: int
    dropped: int
    failed: int
    queue_depth: int
    queue_capacity: int
    work_s: Sequence[float]
    """Seconds each of the latest processed sets took."""
    last_error: str | None = None
    faults: int = 0
    """Bad inputs seen so far, every cause (backward stamps, bursts, silent partners, failed conversions)."""
    silent: tuple[str, ...] = ()
    """Inputs of a synchronised set that are silent while their partners arrive."""


@dataclass(frozen=True)
class HealthReport:
    """One status: level, one-line message and key/value pairs (strings, as diagnostic_msgs/KeyValue)."""

    level: int
    message: str
    values: dict[str, str]


class HealthMonitor:
    """Compares each report's counters with the previous report's (see the module docstring)."""

    def __init__(self, *, stall_s: float = 5.0) -> None:
        self.stall_s = stall_s
        self.previous: NodeCounters | None = None
        self.last_progress_s: float | None = None

    def report(self, counters: NodeCounters, now_s: float, extra: Mapping[str, str] | None = None) -> HealthReport:
        """The status at ``now_s`` (monotonic seconds); ``extra`` adds node-specific values."""
        before = self.previous or NodeCounters(0, 0, 0, 0, 0, counters.queue_capacity, ())
        self.previous = counters
        if self.last_progress_s is None or counters.processed > before.processed:
            self.last_progress_s = now_s
        waiting = counters.queue_depth > 0 or counters.received > before.received
        stalled_s = now_s - self.last_progress_s
        new_drops = counters.dropped - before.dropped
        new_failures = counters.failed - before.failed
        if waiting and stalled_s >= self.stall_s:
            level, message = ERROR, f"stopped processing: nothing processed for {stalled_s:.0f} s with input waiting"
        elif new_failures > 0:
            level, message = WARN, f"{new_failures} input sets failed in the last report period: {counters.last_error}"
        elif new_drops > 0:
            level, message = WARN, f"dropping: {new_drops} input sets dropped in the last report period"
        elif counters.silent:
            level, message = WARN, f"waiting: {', '.join(counters.silent)} silent while the other inputs arrive"
        elif counters.faults > before.faults:
            level, message = WARN, f"bad input: {counters.faults - before.faults} faults in the last report period"
        elif counters.queue_depth * 2 > counters.queue_capacity:
            level, message = WARN, f"lagging: {counters.queue_depth} of {counters.queue_capacity} queue slots used"
        else:
            level, message = OK, "ok"
        work_ms = 1e3 * np.asarray(counters.work_s, dtype=np.float64)
        values = {
            "received": str(counters.received),
            "processed": str(counters.processed),
            "dropped": str(counters.dropped),
            "failed": str(counters.failed),
            "queue_depth": str(counters.queue_depth),
            "latency_median_ms": f"{np.median(work_ms):.1f}" if work_ms.size else "",
            "latency_p95_ms": f"{np.percentile(work_ms, 95):.1f}" if work_ms.size else "",
            "last_error": counters.last_error or "",
            **(extra or {}),
        }
        return HealthReport(level, message, values)
