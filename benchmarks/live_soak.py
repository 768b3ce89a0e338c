"""The live graph for a long run: memory, delivery and a trainer killed half-way, over DDS.

Usage: python benchmarks/live_soak.py [BAG] [--minutes 20] [--config config/pipeline.yaml] [--sample-s 60]

As a user runs it (``colcon build``, ``pipeline.launch.py`` with respawn on): the bag is looped at 1x for M
minutes, its stamps moved forward on every loop so they keep increasing, and a probe records every output.
Half-way the trainer is killed with SIGKILL; the launch respawns it and it resumes from its last automatic
checkpoint (``nodes.checkpoint_period_s``). Printed:

- each node's resident memory over time (the trainer's new process after the kill), and its growth over the
  last half (target: under 5 %; the trainer from two minutes after its respawn);
- the front-end's delivered fraction (pairs with an output / pairs sent) before and after the kill (target:
  unchanged);
- seconds from the kill to the first render of the respawned trainer (target: 30 s);
- keyframes lost: those the trainer held at the kill and not after its resume (by stamp), against those the
  tracker selected in the checkpoint period before the kill (target: no more than those).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from stereo_nerf_ros.bag_player import PublishedMessage
    from stereo_nerf_ros.graph_session import GraphSession

REPO = Path(__file__).resolve().parents[1]
PACKAGE_ROOT = REPO / "ros2_ws" / "src" / "stereo_nerf_ros"
SHARED_ROS = REPO.parent / "shared" / "ros2"
FRONT_END = {"stereo_frontend": "left/image_rect", "depth_prior": "depth", "tracker": "pose"}
SETTLE_S = 120.0
"""Left out of the delivery window after the start (warm-up), and the trainer's memory is compared from this
long after its respawn (its buffer and torch's allocations fill up for about two minutes)."""
MEMORY_GROWTH_TARGET = 0.05
RENDER_TARGET_S = 30.0


def loop_bag(session: GraphSession, bag: Path, until_s: float, published: list[PublishedMessage]) -> None:
    """Play ``bag`` at 1x again and again until ``until_s`` (monotonic), every loop's stamps after the last's."""
    from stereo_nerf_ros.bag_player import BagPlayer

    from stereo_nerf_core.io import topics
    from stereo_nerf_core.io.bag import read_raw_messages
    from stereo_nerf_core.io.cdr import cdr_header

    stamps = [cdr_header(m.data)[0] for m in read_raw_messages(bag, [topics.LEFT_IMAGE])]
    period = (stamps[-1] - stamps[0]) // max(len(stamps) - 1, 1)
    span = stamps[-1] - stamps[0] + period
    player = BagPlayer(session.node, bag, on_publish=published.append)
    player.wait_for_subscribers([topics.LEFT_IMAGE, topics.RIGHT_IMAGE], 60.0)
    stop = threading.Event()
    threading.Timer(max(0.0, until_s - time.monotonic()), stop.set).start()
    loop = 0
    while not stop.is_set():
        player.play(stop, offset_ns=loop * span)
        loop += 1


def sample_memory(session: GraphSession, series: dict[str, list[tuple[float, float, int]]]) -> None:
    """Append (monotonic s, RSS MiB, pid) of every node's process."""
    for name, node in session.graph.nodes().items():
        try:
            rss = node.process.memory_info().rss / 2**20
        except psutil.Error:
            continue
        series.setdefault(name, []).append((time.monotonic(), rss, node.process.pid))


def delivered(session: GraphSession, pairs: dict[int, float], start_s: float, end_s: float) -> dict[str, str]:
    """Per front-end node: pairs published in [start_s, end_s) with an output, over those pairs."""
    window = {stamp for stamp, sent in pairs.items() if start_s <= sent < end_s}
    figures = {}
    for node, topic in FRONT_END.items():
        got = {a.stamp_ns for a in session.probe.on(f"/{node}/{topic}")} & window
        figures[node] = f"{len(got)}/{len(window)} = {len(got) / max(len(window), 1):.3f}"
    return figures


def keyframes_lost(session: GraphSession, killed_at: float, held: int, newest_ns: int, period_s: float) -> None:
    """Keyframes the trainer held at the kill and not after its resume: the tracker's keyframes stamped after the
    newest one the resumed trainer held, up to the newest it held at the kill."""
    reports = session.diagnostics.reports("/trainer")
    after = [
        int(r.values["newest_keyframe_stamp_ns"])
        for r in reports
        if r.arrived_s > killed_at and r.values.get("newest_keyframe_stamp_ns")
    ]
    resumed = min(after) if after else 0  # new keyframes only raise it
    stamps = sorted({a.stamp_ns for a in session.probe.on("/tracker/keyframe_pose")})
    lost = [stamp for stamp in stamps if resumed < stamp <= newest_ns]
    allowed = [a for a in session.probe.on("/tracker/keyframe_pose") if killed_at - period_s <= a.arrived_s < killed_at]
    log = session.graph.log()
    line = re.findall(r"checkpoint: resumed from \S+: step \d+, \d+ keyframes", log)
    print(
        f"keyframes: {held} held at the kill (buffer capacity: trainer.buffer_capacity), newest stamped {newest_ns}; "
        f"after the resume the newest is {resumed} ({line[-1] if line else 'no resume line'})"
    )
    print(
        f"keyframes lost: {len(lost)}; the tracker selected {len(allowed)} in the checkpoint period "
        f"({period_s:g} s) before the kill (target: lost <= that)"
    )


def respawn_timeline(session: GraphSession, killed_epoch: float) -> None:
    """Seconds from the kill to the new trainer process and to its resume (launch log)."""
    try:
        started = session.graph.nodes()["trainer"].process.create_time() - killed_epoch
    except psutil.Error:
        started = float("nan")
    log = session.graph.log()
    resumed = re.findall(r"\[(\d+\.\d+)\] \[trainer\]: checkpoint: resumed", log)
    after = [float(stamp) - killed_epoch for stamp in resumed if float(stamp) > killed_epoch]
    print(
        f"respawn: new trainer process {started:.1f} s after the kill, resumed from its checkpoint "
        f"{after[0] if after else float('nan'):.1f} s after it (configure: model, libraries, checkpoint)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, nargs="?", default=REPO / "rosbags" / "sample_endoscope")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "pipeline.yaml")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--sample-s", type=float, default=60.0, help="seconds between memory samples")
    parser.add_argument("--domain-id", type=int, default=101, help="the DDS domain of the benchmark's graph")
    args = parser.parse_args()
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)
    sys.path[:0] = [str(PACKAGE_ROOT), str(SHARED_ROS)]
    from stereo_nerf_ros.graph_session import GraphSession, colcon_build, ros_environment

    from stereo_nerf_core.config import load_config

    period_s = load_config(args.config).nodes.checkpoint_period_s
    with tempfile.TemporaryDirectory(prefix="live_soak_") as tmp:
        root = Path(tmp)
        env = ros_environment(domain_id=args.domain_id, pythonpath=[SHARED_ROS], log_dir=root / "ros_log")
        install = colcon_build(PACKAGE_ROOT.parent, root / "ws", env)
        arguments = {"config": str(args.config.resolve()), "respawn": "true"}
        with GraphSession(install, root / "run", env, arguments=arguments) as session:
            published: list[PublishedMessage] = []
            start = time.monotonic()
            end, half = start + 60.0 * args.minutes, start + 30.0 * args.minutes
            player = threading.Thread(target=loop_bag, args=(session, args.bag, end, published), daemon=True)
            player.start()
            memory: dict[str, list[tuple[float, float, int]]] = {}
            next_sample, killed_at, killed_epoch, held, newest, age = start, None, time.time(), 0, 0, float("nan")
            while time.monotonic() < end:
                if time.monotonic() >= next_sample:
                    sample_memory(session, memory)
                    next_sample += args.sample_s
                if killed_at is None and time.monotonic() >= half:
                    trainer = session.diagnostics.values("/trainer")
                    held = int(trainer.get("keyframes_held", "0") or 0)
                    newest = int(trainer.get("newest_keyframe_stamp_ns", "0") or 0)
                    age = float(trainer.get("checkpoint_age_s", "nan") or "nan")
                    killed_at, killed_epoch = time.monotonic(), time.time()
                    os.kill(session.graph.nodes()["trainer"].process.pid, signal.SIGKILL)
                    print(
                        f"killed the trainer at {killed_at - start:.0f} s: {held} keyframes held, "
                        f"last checkpoint {age:.0f} s before",
                        flush=True,
                    )
                time.sleep(0.5)
            player.join()
            time.sleep(3.0)  # the last outputs on their way
            sample_memory(session, memory)
            report(session, published, memory, start, killed_at or half, args.minutes)
            keyframes_lost(session, killed_at or half, held, newest, period_s)
            respawn_timeline(session, killed_epoch)
        print("the nodes' own counts at shutdown (launch log; the killed trainer's first process printed none):")
        for node, counts in re.findall(r"\[(?:[\w.]+\.)?(\w+)\]: (\d+ input sets received.*)", session.graph.log()):
            print(f"  {node}: {counts}")


def report(
    session: GraphSession,
    published: list[PublishedMessage],
    memory: dict[str, list[tuple[float, float, int]]],
    start: float,
    killed_at: float,
    minutes: float,
) -> None:
    """Print the figures the module docstring lists."""
    from stereo_nerf_core.io import topics

    pairs = {m.stamp_ns: m.sent_s for m in published if m.topic == topics.LEFT_IMAGE and m.stamp_ns is not None}
    last_sent = max(pairs.values())
    print(f"\n== {minutes:g} min at 1x: {len(pairs)} pairs sent; trainer killed at {killed_at - start:.0f} s ==")
    print("resident memory (MiB) by minute:")
    names = sorted(memory)
    print(f"{'min':>5s} " + " ".join(f"{n:>16s}" for n in names))
    minutes_seen = sorted({int((t - start) // 60) for series in memory.values() for t, _, _ in series})
    for minute in minutes_seen:
        row = []
        for name in names:
            values = [rss for t, rss, _ in memory[name] if int((t - start) // 60) == minute]
            row.append(f"{values[-1]:>16.0f}" if values else f"{'':>16s}")
        print(f"{minute:>5d} " + " ".join(row))
    print("memory growth over the last half (target < 5 %; median of its last third over its first third):")
    for name in names:
        since = killed_at + SETTLE_S if name == "trainer" else killed_at
        window = [rss for t, rss, _ in memory[name] if t >= since]
        if len(window) >= 3:
            third = max(len(window) // 3, 1)
            first, last = statistics.median(window[:third]), statistics.median(window[-third:])
            verdict = "ok" if last / first - 1.0 < MEMORY_GROWTH_TARGET else "MISSED"
            print(f"  {name}: {first:.0f} -> {last:.0f} MiB, {100 * (last / first - 1.0):+.1f} % ({verdict})")
    before = delivered(session, pairs, start + SETTLE_S, killed_at)
    after = delivered(session, pairs, killed_at, last_sent - 2.0)
    print("front-end delivered fraction (pairs with an output / pairs sent; target: unchanged by the kill):")
    for node in FRONT_END:
        print(f"  {node}: before the kill {before[node]}, from the kill on {after[node]}")
    print("  by two-minute window (pairs sent in it):")
    for window_start in range(0, int(last_sent - start), 120):
        low, high = start + window_start, min(start + window_start + 120, last_sent - 2.0)
        figures = delivered(session, pairs, low, high)
        mark = " <- the kill" if low <= killed_at < high else ""
        print(
            f"    {window_start // 60:>3d}-{window_start // 60 + 2:<3d} min "
            + ", ".join(f"{node} {figures[node].split(' = ')[1]}" for node in FRONT_END)
            + mark
        )
    renders = [a for a in session.probe.on("/trainer/rendered/image") if a.arrived_s > killed_at]
    first = renders[0].arrived_s - killed_at if renders else float("nan")
    print(f"first render after the kill: {first:.1f} s (target {RENDER_TARGET_S:.0f} s)")


if __name__ == "__main__":
    main()
