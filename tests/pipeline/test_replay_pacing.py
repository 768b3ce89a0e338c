"""Recorded-rate playback: which frames a pipeline of a given speed takes and drops (fake clock)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stereo_nerf_core.pipeline.errors import ReplayError
from stereo_nerf_core.pipeline.pacing import paced


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def _frames(count: int, period_s: float) -> list[Any]:
    start = 1_700_000_000_000_000_000
    return [SimpleNamespace(index=i, stamp_ns=start + round(i * period_s * 1e9)) for i in range(count)]


def _run(frames: list[Any], rate: float, work_s: float, clock: FakeClock) -> tuple[list[int], list[int]]:
    dropped: list[int] = []
    taken = []
    for frame in paced(frames, rate, dropped, clock=clock, sleep=clock.sleep):
        taken.append(frame.index)
        clock.now += work_s  # processing the frame
    return taken, dropped


def test_a_slow_pipeline_takes_the_newest_frame_and_drops_the_rest() -> None:
    # frames every 0.1 s, 0.25 s of work each: at 0.25 s frames 1 and 2 have arrived -> 1 dropped, 2 taken;
    # at 0.5 s frames 3, 4 and 5 have arrived -> 3 and 4 dropped, 5 (the last) taken
    taken, dropped = _run(_frames(6, 0.1), 1.0, 0.25, FakeClock())
    assert taken == [0, 2, 5] and dropped == [1, 3, 4]


def test_a_fast_pipeline_waits_for_each_frame_and_drops_none() -> None:
    clock = FakeClock()
    taken, dropped = _run(_frames(6, 0.1), 1.0, 0.01, clock)
    assert taken == list(range(6)) and dropped == []
    assert clock.now == pytest.approx(0.51) and clock.slept == pytest.approx(0.45)  # 5 periods minus 5 x work


def test_rate_scales_the_recorded_clock() -> None:
    taken, dropped = _run(_frames(6, 0.1), 2.0, 0.1, FakeClock())  # frames every 0.05 s of wall time
    assert taken == [0, 2, 4, 5] and dropped == [1, 3]


def test_rate_must_be_positive() -> None:
    with pytest.raises(ReplayError, match="--rate must be > 0"):
        list(paced(_frames(2, 0.1), 0.0, []))
