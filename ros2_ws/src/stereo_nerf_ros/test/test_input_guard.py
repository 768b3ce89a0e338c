"""The input guard without DDS: a restart clears the synchroniser's stale sets and is said once; failures are
said once per cause and topic, counted, and their end is said (over DDS: test_faults_over_dds.py)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from stereo_nerf_ros.input_guard import InputGuard

from stereo_nerf_core.io.errors import CameraInfoError

LEFT, RIGHT = "/stereo/left/image_raw", "/stereo/right/image_raw"


class _Logger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def error(self, line: str) -> None:
        self.lines.append(("error", line))

    def warning(self, line: str) -> None:
        self.lines.append(("warning", line))

    def info(self, line: str) -> None:
        self.lines.append(("info", line))


def _msg(stamp_ns: int) -> Any:
    return SimpleNamespace(
        header=SimpleNamespace(stamp=SimpleNamespace(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9))
    )


def test_a_restart_clears_what_the_synchroniser_can_no_longer_match_and_is_said_once() -> None:
    logger = _Logger()
    guard = InputGuard(logger, name="stereo_frontend", slop_s=0.05, queue_capacity=4)
    sync = SimpleNamespace(lock=threading.Lock(), queues=[{}, {}])
    watch = guard.watch((LEFT, RIGHT), driver=True)
    left, right = (guard.watcher(watch, topic, lambda: sync) for topic in (LEFT, RIGHT))
    for k in range(5):
        left(_msg(100 * 10**9 + k * 10**8))
        sync.queues[0][100 * 10**9 + k * 10**8] = "left"  # lefts waiting for rights that will not come
    left(_msg(10 * 10**9))  # the bag restarted 90 s back
    assert sync.queues[0] == {}
    sync.queues[0][10 * 10**9] = "left"
    right(_msg(100 * 10**9))
    right(_msg(10 * 10**9 + 10**7))  # the same restart on the partner: the new left stays
    assert sync.queues[0] == {10 * 10**9: "left"}
    warnings = [line for level, line in logger.lines if level == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith(f"{LEFT}: stamps jumped backwards: back by 90.400 s")
    values, total, silent = guard.report()
    assert values[f"faults: stamps jumped backwards on {LEFT}"] == "1" and total == 1 and silent == ()


def test_failures_are_said_once_per_cause_and_topic_then_their_end() -> None:
    logger = _Logger()
    guard = InputGuard(logger, name="tracker", slop_s=0.05, queue_capacity=4)
    error = CameraInfoError("/cam/info: K holds NaN", topic="/cam/info")
    for _ in range(3):
        guard.failed(error, "skipped an input set")
    guard.guarded(lambda msg: (_ for _ in ()).throw(ValueError("not a number")), "/side")(None)
    assert logger.lines == [
        ("error", "/cam/info: invalid camera_info: skipped an input set: /cam/info: K holds NaN"),
        ("error", "/side: ValueError: ignored: not a number"),
    ]
    guard.recovered()
    assert logger.lines[-2:] == [
        ("info", "/cam/info: good input again after invalid camera_info (3 so far)"),
        ("info", "/side: good input again after ValueError (1 so far)"),
    ]
    values, total, _ = guard.report()
    assert values["faults: invalid camera_info on /cam/info"] == "3" and total == 4
