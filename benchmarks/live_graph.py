"""The live graph over DDS: delivery, latency and CPU per node with the whole bag played at 1x, 2x and 4x.

Usage: python benchmarks/live_graph.py [BAG] [--config config/pipeline.yaml] [--rates 1,2,4] [--frames N]

As a user runs it: ``colcon build`` of ros2_ws into a temporary folder, then for each rate a fresh
``pipeline.launch.py`` (through ``launch.LaunchService``), the bag published with rclpy at that multiple of
its recorded pace (stamps kept) and a probe on every output (the integration test's player and probe). DDS
stays on the loopback (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``) in a domain of the benchmark's own.

Per topic: pairs delivered / pairs sent (distinct input stamps), median and 95th-percentile latency from the
pair's publication (the later of its two images) to the probe's arrival. Per node: its CPU share (% of one
core) while the bag played and the graph drained. Then the trainer: keyframes taken / selected, first render
after the first keyframe, and its render rate. The drop policy is printed with the counts it produced.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stereo_nerf_ros.bag_player import PublishedMessage
    from stereo_nerf_ros.graph_probe import GraphProbe
    from stereo_nerf_ros.graph_session import GraphSession

REPO = Path(__file__).resolve().parents[1]
PACKAGE_ROOT = REPO / "ros2_ws" / "src" / "stereo_nerf_ros"
SHARED_ROS = REPO.parent / "shared" / "ros2"
FRONT_END = ("stereo_frontend", "depth_prior", "tracker")
"""Nodes that must deliver every pair at 1x; they drop (oldest first, counted) only when they cannot keep up."""
TAIL_S = 5.0
"""Seconds measured after the first render (or the drain), for the render rate and the front-end's tail."""
DROP_POLICY = (
    "front-end (stereo_frontend, depth_prior, tracker): normal priority; drop-oldest input queue of "
    "nodes.queue_size sets, so a drop means the front-end itself is short of CPU | matcher: background "
    "(nice + SCHED_IDLE), takes the newest set when free, drops the rest | trainer: background, caches frames "
    "and takes every keyframe pose; renders and clouds at their rates, skipped when training is behind"
)


@dataclass(frozen=True)
class TopicFigures:
    topic: str
    delivered: int
    messages: int
    latencies_ms: list[float]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0-1) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def pair_publication(published: Sequence[PublishedMessage], left: str, right: str) -> dict[int, float]:
    """Left stamp -> when the later of the pair's two images went out (monotonic s)."""
    sent: dict[str, dict[int, float]] = {left: {}, right: {}}
    for message in published:
        if message.topic in sent and message.stamp_ns is not None:
            sent[message.topic][message.stamp_ns] = message.sent_s
    return {stamp: max(t, sent[right].get(stamp, t)) for stamp, t in sent[left].items()}


def topic_figures(probe: GraphProbe, pairs: dict[int, float]) -> list[TopicFigures]:
    """Delivery and latency of every output topic the probe saw."""
    figures = []
    for topic in sorted(probe.topics):
        arrivals = probe.on(topic)
        stamps = {a.stamp_ns for a in arrivals if a.stamp_ns in pairs}
        latencies = [1000.0 * (a.arrived_s - pairs[a.stamp_ns]) for a in arrivals if a.stamp_ns in pairs]
        figures.append(TopicFigures(topic, len(stamps), len(arrivals), latencies))
    return figures


def run_rate(session_args: dict[str, Any], bag: Path, rate: float, frames: int | None, drain_s: float) -> None:
    """One launch: play the bag at ``rate``, wait for the first render (at most ``drain_s``) and TAIL_S more."""
    from stereo_nerf_ros.graph_session import GraphSession

    from stereo_nerf_core.io import topics

    with GraphSession(**session_args) as session:
        before, start = session.cpu_seconds(), time.monotonic()
        published = session.play(bag, rate=rate, max_frames=frames)
        played = time.monotonic()
        deadline = played + drain_s
        while time.monotonic() < deadline and not session.probe.count("/trainer/rendered/image"):
            time.sleep(0.5)
        time.sleep(TAIL_S)
        wall = time.monotonic() - start
        used = session.cpu_seconds()
        pairs = pair_publication(published, topics.LEFT_IMAGE, topics.RIGHT_IMAGE)
        report(session, pairs, rate, wall, played - start, {n: used[n] - before.get(n, 0.0) for n in used})
    print("the nodes' own counts at shutdown (launch log; per set: conversion, stage and publishing):")
    for node, counts in re.findall(r"\[(?:[\w.]+\.)?(\w+)\]: (\d+ input sets received.*)", session.graph.log()):
        print(f"  {node}: {counts}")


def report(
    session: GraphSession, pairs: dict[int, float], rate: float, wall: float, play_s: float, cpu: dict[str, float]
) -> None:
    """Print one rate's tables."""
    probe = session.probe
    sent = len(pairs)
    print(f"\n== {rate:g}x: {sent} pairs played in {play_s:.1f} s, measured over {wall:.1f} s ==")
    print(f"{'topic':38s} {'pairs':>9s} {'msgs':>5s} {'median ms':>10s} {'p95 ms':>8s}")
    for row in topic_figures(probe, pairs):
        median = statistics.median(row.latencies_ms) if row.latencies_ms else float("nan")
        p95 = percentile(row.latencies_ms, 0.95)
        print(f"{row.topic:38s} {row.delivered:>4d}/{sent:<4d} {row.messages:>5d} {median:>10.0f} {p95:>8.0f}")
    print(f"{'node':16s} {'CPU % of a core':>16s}")
    for node, seconds in sorted(cpu.items()):
        print(f"{node:16s} {100.0 * seconds / wall:>16.0f}")
    selected = probe.on("/tracker/keyframe_pose")
    renders = probe.on("/trainer/rendered/image")
    first_render = (
        f"{renders[0].arrived_s - selected[0].arrived_s:.1f} s" if renders and selected else "none (no render)"
    )
    span = renders[-1].arrived_s - renders[0].arrived_s if len(renders) > 1 else 0.0
    rate_hz = f"{(len(renders) - 1) / span:.2f} Hz" if span > 0 else "n/a"
    print(f"trainer: {len(selected)} keyframes selected (taken: its count below); first render {first_render}")
    print(f"  after the first keyframe; {len(renders)} renders, {rate_hz} from the first to the last")
    front = {row.topic: row.delivered for row in topic_figures(probe, pairs)}
    dropped = {n: sent - front.get(f"/{n}/{_main_output(n)}", 0) for n in FRONT_END}
    print(f"dropped by the front-end: {dropped}; trainer CPU {100.0 * cpu.get('trainer', 0.0) / wall:.0f} %")
    print(f"policy: {DROP_POLICY}")


def _main_output(node: str) -> str:
    return {"stereo_frontend": "left/image_rect", "depth_prior": "depth", "tracker": "pose"}[node]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, nargs="?", default=REPO / "rosbags" / "sample_endoscope")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "pipeline.yaml")
    parser.add_argument("--rates", default="1,2,4", help="multiples of the recorded rate, comma-separated")
    parser.add_argument("--frames", type=int, default=None, help="play only this many pairs (default: all)")
    parser.add_argument("--drain", type=float, default=20.0, help="longest wait for the first render (s)")
    parser.add_argument("--domain-id", type=int, default=100, help="the DDS domain of the benchmark's graph")
    args = parser.parse_args()
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)
    sys.path[:0] = [str(PACKAGE_ROOT), str(SHARED_ROS)]
    from stereo_nerf_ros.graph_session import colcon_build, ros_environment

    with tempfile.TemporaryDirectory(prefix="live_graph_") as tmp:
        root = Path(tmp)
        env = ros_environment(domain_id=args.domain_id, pythonpath=[SHARED_ROS], log_dir=root / "ros_log")
        built = time.monotonic()
        install = colcon_build(PACKAGE_ROOT.parent, root / "ws", env)
        print(f"colcon build: {time.monotonic() - built:.0f} s; bag {args.bag}; config {args.config}")
        for rate in (float(r) for r in args.rates.split(",")):
            arguments = {"config": str(args.config.resolve())}
            session_args = {"install": install, "work_dir": root / f"{rate:g}x", "env": env, "arguments": arguments}
            run_rate(session_args, args.bag, rate, args.frames, args.drain)


if __name__ == "__main__":
    main()
