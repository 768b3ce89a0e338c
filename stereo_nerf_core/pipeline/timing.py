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


def peak_memory() -> dict[str, float | None]:
    """``{"rss_peak_mib": peak resident memory of this process, "cuda_peak_mib": torch's CUDA peak or None}``."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    rss_mib = rss / 2**20 if sys.platform == "darwin" else rss / 1024
    cuda = None
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return {"rss_peak_mib": round(rss_mib, 1), "cuda_peak_mib": cuda}
