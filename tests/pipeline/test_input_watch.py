"""Faults per cause, backward stamps, bursts and silent partners, on hand-made arrival times."""

from __future__ import annotations

from stereo_nerf_core.pipeline.input_watch import (
    SILENT_PARTNER,
    Burst,
    FaultLog,
    StampJump,
    StampWatch,
    stale_after,
)

LEFT, RIGHT = "/stereo/left/image_raw", "/stereo/right/image_raw"


def test_a_cause_is_logged_once_then_throttled_with_its_count() -> None:
    log = FaultLog(throttle_s=30.0)
    assert log.record("unknown encoding", LEFT, "'yuv'", 0.0) == f"{LEFT}: unknown encoding: 'yuv'"
    assert log.record("unknown encoding", LEFT, "'yuv'", 10.0) is None
    assert log.record("unknown encoding", LEFT, "'yuv'", 20.0) is None
    assert log.record("unknown encoding", RIGHT, "'yuv'", 20.0) is not None  # another topic: another cause
    line = log.record("unknown encoding", LEFT, "'yuv'", 31.0)
    assert line == f"{LEFT}: unknown encoding: 'yuv' (3 times since the last report, 4 in all)"
    assert log.counts() == {f"unknown encoding on {LEFT}": 4, f"unknown encoding on {RIGHT}": 1}
    assert log.total == 5


def test_recovery_is_said_once_per_active_cause_and_silence_ends_on_its_own() -> None:
    log = FaultLog()
    log.record("invalid camera_info", LEFT, "NaN", 0.0)
    log.record(SILENT_PARTNER, RIGHT, "nothing for 2 s", 0.0)
    assert log.recovered() == [f"{LEFT}: good input again after invalid camera_info (1 so far)"]
    assert log.recovered() == []
    assert log.end(SILENT_PARTNER, RIGHT) == f"{RIGHT}: {SILENT_PARTNER} is over (1 so far)"
    assert log.end(SILENT_PARTNER, RIGHT) is None


def test_a_backward_stamp_is_a_jump_of_the_right_size() -> None:
    watch = StampWatch((LEFT, RIGHT))
    assert watch.arrived(LEFT, 5_000_000_000, 0.0) == []
    assert watch.arrived(LEFT, 5_100_000_000, 0.1) == []
    assert watch.arrived(LEFT, 1_000_000_000, 0.2) == [StampJump(LEFT, 1_000_000_000, 4.1)]
    assert watch.arrived(RIGHT, 5_100_000_000, 0.21) == []
    assert watch.arrived(RIGHT, 1_000_000_000, 0.22) == [StampJump(RIGHT, 1_000_000_000, 4.1, first=False)]
    assert watch.arrived(LEFT, 1_100_000_000, 0.3) == []  # increasing again


def test_stale_entries_are_those_after_the_new_stamp_and_slop() -> None:
    queue: dict[int, object] = {5_000: "a", 5_100: "b", 1_000: "c", 1_040: "d"}
    assert stale_after(queue, 1_000, 50) == [5_000, 5_100]


def test_ten_times_the_rate_is_a_burst_reported_once_until_it_ends() -> None:
    watch = StampWatch((LEFT,), burst_factor=5.0, burst_window_s=1.0)
    events = [event for i in range(30) for event in watch.arrived(LEFT, i * 100_000_000, i * 0.1)]
    assert events == []  # 10 Hz for 3 s
    start = 3.0
    bursts = [
        event for i in range(100) for event in watch.arrived(LEFT, (30 + i) * 100_000_000, start + i * 0.01)
    ]  # 100 Hz
    assert len(bursts) == 1 and isinstance(bursts[0], Burst)
    assert bursts[0].factor > 5.0 and bursts[0].rate_hz >= 50.0  # said as soon as it passes 5x
    assert watch.usual_rate_hz(LEFT, start) == 10.0


def test_a_burst_of_every_topic_of_a_set_is_one_burst() -> None:
    watch = StampWatch((LEFT, RIGHT), burst_factor=3.0)
    events = []
    for i in range(30):
        events += watch.arrived(LEFT, i, i * 0.1) + watch.arrived(RIGHT, i, i * 0.1)
    for i in range(50):
        events += watch.arrived(LEFT, 30 + i, 3.0 + i * 0.01) + watch.arrived(RIGHT, 30 + i, 3.0 + i * 0.01)
    assert [event.topic for event in events if isinstance(event, Burst)] == [LEFT]


def test_a_silent_partner_begins_once_and_ends_when_it_is_back() -> None:
    watch = StampWatch((LEFT, RIGHT), silence_s=2.0)
    for i in range(10):
        watch.arrived(LEFT, i, i * 0.1)
        watch.arrived(RIGHT, i, i * 0.1)
    assert watch.check_silence(1.0) == ([], [])
    for i in range(10, 40):
        watch.arrived(LEFT, i, i * 0.1)
    began, ended = watch.check_silence(3.95)
    assert [topic for topic, _ in began] == [RIGHT] and abs(began[0][1] - 3.05) < 1e-9 and ended == []
    assert watch.check_silence(3.96) == ([], [])  # said once
    watch.arrived(RIGHT, 40, 4.0)
    assert watch.check_silence(4.0) == ([], [RIGHT])
    assert watch.silent == set()


def test_nothing_is_silent_when_every_input_stops() -> None:
    watch = StampWatch((LEFT, RIGHT), silence_s=2.0)
    watch.arrived(LEFT, 1, 0.0)
    watch.arrived(RIGHT, 1, 0.0)
    assert watch.check_silence(60.0) == ([], [])
