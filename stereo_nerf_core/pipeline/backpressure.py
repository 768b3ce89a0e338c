"""Backpressure of the nodes: bounded drop-oldest input queues and stamp-driven rate gates.

Every node parks its inputs in a :class:`DropOldestQueue` from its subscription callbacks and works
on them from its own thread; when the work falls behind, the oldest input is dropped (and counted),
so latency never builds up and a slow consumer (the trainer) never blocks a producer.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

from stereo_nerf_core.pipeline.errors import PipelineError

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """Thread-safe FIFO of at most ``capacity`` items; a put beyond it drops the oldest item and counts it."""

    def __init__(self, capacity: int, *, name: str) -> None:
        if capacity < 1:
            raise PipelineError(f"{name}: queue capacity must be >= 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._lock = threading.Condition()
        self.received = 0
        """Items put so far."""
        self.dropped = 0
        """Items dropped unprocessed because the queue was full."""

    def put(self, item: T) -> T | None:
        """Append ``item``; returns the item dropped to make room, if any. Never blocks for long."""
        with self._lock:
            self.received += 1
            self._items.append(item)
            self._lock.notify()
            if len(self._items) > self.capacity:
                self.dropped += 1
                return self._items.popleft()
            return None

    def take(self, timeout_s: float = 0.0) -> T | None:
        """The oldest waiting item; waits up to ``timeout_s`` for one (woken by :meth:`put`), else None."""
        with self._lock:
            if not self._items and timeout_s > 0:
                self._lock.wait_for(lambda: bool(self._items), timeout_s)
            return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class RateGate:
    """Says when a periodic output is due, by the stamps (ns) it is asked with: at most once per period.

    The first call is due; later calls are due once ``1 / rate_hz`` has passed since the last due one.
    A rate of 0 is never due. Stamps, not the wall clock, so a bag replay gives the same outputs.
    """

    def __init__(self, rate_hz: float, *, name: str) -> None:
        if rate_hz < 0:
            raise PipelineError(f"{name}: rate must be >= 0 Hz, got {rate_hz}")
        self.name = name
        self.period_ns = 0 if rate_hz == 0 else round(1e9 / rate_hz)
        self.last_ns: int | None = None

    def due(self, stamp_ns: int) -> bool:
        """True (and the period restarts at ``stamp_ns``) when the output is due at ``stamp_ns``."""
        if self.period_ns == 0:
            return False
        if self.last_ns is not None and stamp_ns - self.last_ns < self.period_ns:
            return False
        self.last_ns = stamp_ns
        return True

    def wait_ns(self, now_ns: int) -> int | None:
        """Nanoseconds from ``now_ns`` until the output is due again (0: due now); None when it is off."""
        if self.period_ns == 0:
            return None
        return 0 if self.last_ns is None else max(0, self.last_ns + self.period_ns - now_ns)
