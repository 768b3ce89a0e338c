"""Per-stage wall-clock timing of a run (the replay's report and the benchmark read it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimer:
    """Accumulates seconds and call counts per named stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block under ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.calls[name] = self.calls.get(name, 0) + 1

    def summary(self) -> dict[str, dict[str, float]]:
        """``{stage: {"seconds", "calls", "ms_per_call", "per_second"}}``."""
        result: dict[str, dict[str, float]] = {}
        for name, seconds in self.seconds.items():
            calls = self.calls[name]
            result[name] = {
                "seconds": round(seconds, 4),
                "calls": calls,
                "ms_per_call": round(1000.0 * seconds / calls, 3),
                "per_second": round(calls / seconds, 3) if seconds > 0 else float("inf"),
            }
        return result
