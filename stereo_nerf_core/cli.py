"""``stereo-nerf`` / ``python -m stereo_nerf_core``: the library's command line."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from stereo_nerf_core.config import load_config
from stereo_nerf_core.errors import StereoNerfError


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (what ``ros2 launch``, Docker and systemd send) stops the block as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _replay(args: argparse.Namespace) -> int:
    from stereo_nerf_core.pipeline.replay import run_replay

    config = load_config(args.config)
    with sigterm_as_interrupt():  # a partial report, as Ctrl-C gives
        summary = run_replay(
            args.bag, config, args.out, progress=not args.quiet, max_frames=args.max_frames, rate=args.rate
        )
    print(summary.one_line())
    return 0 if summary.complete else 3


def add_replay_parser(subparsers: argparse._SubParsersAction) -> None:
    """``replay BAG --config YAML --out DIR``."""
    parser = subparsers.add_parser(
        "replay",
        help="replay a bag through the pipeline and score it",
        description="Replay a ROS 2 bag through the pipeline's stages; write depth, surfaces, "
        "metrics.json and report.md into --out.",
    )
    parser.add_argument("bag", type=Path, help="rosbag2 folder (or .mcap / .db3 file)")
    parser.add_argument(
        "--config", type=Path, default=Path("config/replay.yaml"), help="replay YAML (names the nodes' pipeline.yaml)"
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many pairs")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="play at this multiple of the recorded rate (1.0: as recorded), dropping the frames a busy "
        "pipeline would miss; default: as fast as possible, nothing dropped",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_replay)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    from stereo_nerf_core.alignment.cli import add_align_silhouette_parser
    from stereo_nerf_core.frontend.prior_cli import add_depth_prior_parser
    from stereo_nerf_core.importers.cli import add_import_parser
    from stereo_nerf_core.synthetic.cli import add_record_synthetic_parser
    from stereo_nerf_core.training.pose_free_cli import add_pose_free_parser
    from stereo_nerf_core.training.self_supervised_cli import add_train_self_supervised_parser

    parser = argparse.ArgumentParser(prog="stereo-nerf", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_record_synthetic_parser(subparsers)
    add_replay_parser(subparsers)
    add_depth_prior_parser(subparsers)
    add_import_parser(subparsers)
    add_align_silhouette_parser(subparsers)
    add_pose_free_parser(subparsers)
    add_train_self_supervised_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; library errors print one clear line and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except StereoNerfError as error:
        print(f"stereo-nerf {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
