"""Per-stage time per frame and frames per second of the offline replay.

Usage: python benchmarks/replay_stages.py [BAG] [--config config/replay.yaml] [--frames N]
Prints one row per stage (ms per frame, frames per second) and the end-to-end rate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2

from stereo_nerf_core.config import load_config
from stereo_nerf_core.pipeline.replay import run_replay

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, nargs="?", default=REPO / "rosbags" / "sample_endoscope")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "replay.yaml")
    parser.add_argument("--frames", type=int, default=None, help="stop after this many pairs")
    args = parser.parse_args()
    config = load_config(args.config)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        summary = run_replay(args.bag, config, out, progress=False, max_frames=args.frames)
        wall = time.perf_counter() - start
    metrics = summary.metrics
    pairs = metrics["frames"]["processed"]
    timings = metrics["stage_timings"]
    print(
        f"replay benchmark: {args.bag.name}, {pairs} pairs, "
        f"OpenCV threads {cv2.getNumThreads()} of {os.cpu_count()} CPUs"
    )
    print(f"{'stage':<14}{'calls':>7}{'ms/call':>10}{'ms/frame':>10}{'frames/s':>10}")
    for stage, row in timings.items():
        per_frame = 1000.0 * row["seconds"] / max(pairs, 1)
        rate = pairs / row["seconds"] if row["seconds"] > 0 else float("inf")
        print(f"{stage:<14}{row['calls']:>7}{row['ms_per_call']:>10.2f}{per_frame:>10.2f}{rate:>10.1f}")
    print(f"{'end-to-end':<14}{pairs:>7}{'':>10}{1000.0 * wall / max(pairs, 1):>10.2f}{pairs / wall:>10.1f}")


if __name__ == "__main__":
    main()
