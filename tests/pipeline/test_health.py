"""Node health for /diagnostics: OK, WARN on drops, failures or a lagging queue, ERROR when processing stops."""

from __future__ import annotations

from stereo_nerf_core.pipeline.health import ERROR, OK, WARN, HealthMonitor, NodeCounters


def counters(received: int, processed: int, *, dropped: int = 0, failed: int = 0, depth: int = 0) -> NodeCounters:
    return NodeCounters(received, processed, dropped, failed, depth, 4, [0.010, 0.020, 0.030, 0.040], "bad encoding")


def test_levels_follow_what_changed_since_the_last_report() -> None:
    monitor = HealthMonitor(stall_s=3.0)
    first = monitor.report(counters(10, 10), 0.0, {"keyframes": "3"})
    assert first.level == OK and first.message == "ok"
    assert first.values["latency_median_ms"] == "25.0" and first.values["latency_p95_ms"] == "38.5"
    assert first.values["keyframes"] == "3" and first.values["received"] == "10"
    assert monitor.report(counters(12, 11, dropped=1), 1.0).level == WARN  # a drop since the last report
    assert monitor.report(counters(14, 13, dropped=1), 2.0).level == OK  # no new drop: recovered
    failed = monitor.report(counters(16, 14, dropped=1, failed=1), 3.0)
    assert failed.level == WARN and "bad encoding" in failed.message and failed.values["failed"] == "1"
    assert monitor.report(counters(18, 16, dropped=1, failed=1, depth=3), 4.0).level == WARN  # 3 of 4: lagging
    assert monitor.report(counters(20, 16, dropped=1, failed=1, depth=4), 6.0).level == WARN  # stalled 2 s < 3 s
    stopped = monitor.report(counters(22, 16, dropped=1, failed=1, depth=4), 7.5)
    assert stopped.level == ERROR and "nothing processed for 4 s" in stopped.message
    assert monitor.report(counters(23, 20, dropped=1, failed=1), 8.0).level == OK  # processing again


def test_an_idle_node_is_ok() -> None:
    monitor = HealthMonitor(stall_s=1.0)
    for second in range(5):
        assert monitor.report(counters(0, 0), float(second)).level == OK  # nothing arrives, nothing waits


def test_bad_input_and_a_silent_input_warn() -> None:
    monitor = HealthMonitor(stall_s=3.0)
    base = counters(10, 10)
    assert monitor.report(base, 0.0).level == OK
    faulted = NodeCounters(11, 11, 0, 0, 0, 4, [0.01], None, faults=2)
    assert monitor.report(faulted, 1.0).level == WARN  # two faults since the last report
    assert monitor.report(faulted, 2.0).level == OK  # none new
    silent = NodeCounters(11, 11, 0, 0, 0, 4, [0.01], None, faults=3, silent=("/right",))
    report = monitor.report(silent, 3.0)
    assert report.level == WARN and report.message == "waiting: /right silent while the other inputs arrive"
