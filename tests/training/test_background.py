"""BackgroundLoop: steps on its own thread, ``on_start`` first on that thread, a step's failure re-raised by stop."""

from __future__ import annotations

import os
import threading

import pytest

from stereo_nerf_core.training.background import BackgroundLoop
from stereo_nerf_core.training.errors import TrainingError


def test_on_start_runs_once_on_the_loop_thread_before_the_first_step() -> None:
    events: list[tuple[str, int]] = []
    stepped = threading.Event()

    def step() -> None:
        events.append(("step", threading.get_ident()))
        stepped.set()

    loop = BackgroundLoop(step, lambda: False, name="test-loop")
    loop.start(on_start=lambda: events.append(("start", threading.get_ident())))
    assert stepped.wait(5.0)
    loop.stop()
    assert events[0][0] == "start" and [kind for kind, _ in events].count("start") == 1
    assert {ident for _, ident in events} == {events[0][1]} != {threading.get_ident()}  # all on one other thread
    assert loop.steps == len(events) - 1


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_a_priority_set_in_on_start_holds_for_the_steps_and_leaves_the_caller_alone() -> None:
    policies: list[int] = []
    stepped = threading.Event()

    def step() -> None:
        policies.append(os.sched_getscheduler(0))
        stepped.set()

    loop = BackgroundLoop(step, lambda: False, name="test-idle")
    loop.start(on_start=lambda: os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0)))
    assert stepped.wait(5.0)
    loop.stop()
    assert set(policies) == {os.SCHED_IDLE}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_a_failing_on_start_ends_the_loop_and_stop_re_raises_it() -> None:
    def refuse() -> None:
        raise PermissionError("no")

    loop = BackgroundLoop(lambda: None, lambda: False, name="test-fail")
    loop.start(on_start=refuse)
    with pytest.raises(TrainingError, match="background training failed: no"):
        loop.stop()
    assert loop.steps == 0
