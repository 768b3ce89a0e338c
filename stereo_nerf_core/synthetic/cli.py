"""The ``record-synthetic`` subcommand: render a synthetic stereo endoscope clip into a ROS 2 bag.

Hook it into a CLI with ``add_record_synthetic_parser(subparsers)``; the parser's ``handler`` default
is :func:`run_record_synthetic`, which takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.synthetic.config import PRESETS, preset
from stereo_nerf_core.synthetic.recorder import record_synthetic_bag


def add_record_synthetic_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``record-synthetic OUT_BAG [options]``; ``args.handler(args)`` runs it and returns an exit code."""
    parser = subparsers.add_parser(
        "record-synthetic",
        help="render a synthetic stereo endoscope clip (with ground truth) into a new ROS 2 bag",
        description=(
            "Render a synthetic da Vinci-like stereo endoscope clip with ground-truth depth, pose and "
            "instrument mask and write it as a rosbag2 folder. Deterministic from the seed."
        ),
    )
    parser.add_argument("out_bag", type=Path, metavar="OUT_BAG", help="bag folder to create (must not exist)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="sample", help="base configuration")
    parser.add_argument("--frames", type=int, help="number of stereo frames")
    parser.add_argument("--width", type=int, help="image width in pixels")
    parser.add_argument("--height", type=int, help="image height in pixels")
    parser.add_argument("--fps", type=float, help="frame rate in Hz")
    parser.add_argument("--seed", type=int, help="seed of every random quantity")
    parser.add_argument("--storage", choices=["mcap", "sqlite3"], help="bag storage plugin")
    parser.add_argument("--compression", choices=["none", "zstd"], help="bag compression")
    parser.add_argument(
        "--breathing-amplitude-mm", type=float, help="periodic tissue motion amplitude in mm (0 = static)"
    )
    parser.add_argument("--breathing-period-s", type=float, help="period of the tissue motion in seconds")
    parser.add_argument(
        "--drop-rate", type=float, help="probability per frame of dropping a left or right image"
    )
    parser.add_argument("--no-instrument", action="store_true", help="no instrument enters the view")
    parser.add_argument("--no-noise", action="store_true", help="noise-free images")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_record_synthetic)


def config_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration fields the parsed arguments override."""
    changes: dict[str, Any] = {
        name: getattr(args, name)
        for name in ("frames", "width", "height", "fps", "seed", "storage", "compression", "drop_rate")
        if getattr(args, name) is not None
    }
    if args.breathing_amplitude_mm is not None:
        changes["breathing_amplitude_m"] = args.breathing_amplitude_mm * 1e-3
    if args.breathing_period_s is not None:
        changes["breathing_period_s"] = args.breathing_period_s
    if args.no_instrument:
        changes["instrument"] = False
    if args.no_noise:
        changes["noise"] = False
    if args.no_progress:
        changes["progress"] = False
    return changes


def run_record_synthetic(args: argparse.Namespace) -> int:
    """Record the bag the arguments describe; prints a summary. Exit code 0, or 2 on a bad request."""
    try:
        config = preset(args.preset, **config_changes(args))
        summary = record_synthetic_bag(args.out_bag, config)
    except StereoNerfError as error:
        print(f"record-synthetic: {error}", file=sys.stderr)
        return 2
    print(summary.describe())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m stereo_nerf_core.synthetic OUT_BAG [options]``."""
    parser = argparse.ArgumentParser(prog="python -m stereo_nerf_core.synthetic")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_record_synthetic_parser(subparsers)
    args = parser.parse_args(["record-synthetic", *(sys.argv[1:] if argv is None else argv)])
    handler = args.handler
    return int(handler(args))
