"""The ``train-self-supervised`` subcommand: train the depth network on a bag's stereo stream.

``stereo-nerf train-self-supervised BAG --out weights.pt --budget-s N [--config YAML] [--max-steps N]
[--max-frames N] [--device cpu]`` writes the weights file for ``depth_prior.backend: self_supervised``
(``depth_prior.self_supervised_weights_path``) and prints the loss at the start and the end. Hook it
into a CLI with ``add_train_self_supervised_parser(subparsers)``; the handler returns the exit code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stereo_nerf_core.config import load_config
from stereo_nerf_core.frontend.errors import FrontendError


def _train(args: argparse.Namespace) -> int:
    from stereo_nerf_core.frontend.self_supervised.weights import save_weights
    from stereo_nerf_core.training.self_supervised_stream import train_from_bag

    if args.budget_s <= 0:
        raise FrontendError(f"--budget-s must be positive, got {args.budget_s}")
    if args.max_steps is not None and args.max_steps < 1:
        raise FrontendError(f"--max-steps must be >= 1, got {args.max_steps}")
    config = load_config(args.config)
    trainer = train_from_bag(
        args.bag,
        config,
        budget_s=args.budget_s,
        max_steps=args.max_steps,
        max_frames=args.max_frames,
        device=args.device,
    )
    path = save_weights(args.out, trainer.weights())
    losses = [step.total for step in trainer.history]
    window = max(1, min(10, len(losses) // 2))
    print(
        f"trained {trainer.steps} steps on {len(trainer.buffer)} frames: loss {np.mean(losses[:window]):.4f} -> "
        f"{np.mean(losses[-window:]):.4f}; weights in {path}"
    )
    return 0


def add_train_self_supervised_parser(subparsers: argparse._SubParsersAction) -> None:
    """``train-self-supervised BAG --out weights.pt --budget-s N``."""
    parser = subparsers.add_parser(
        "train-self-supervised",
        help="train the self-supervised depth network on a bag's stereo stream",
        description="Train the monocular depth network by view synthesis (rig and poses) on a bag's rectified "
        "stereo stream; write the weights for depth_prior.backend: self_supervised.",
    )
    parser.add_argument("bag", type=Path, help="rosbag2 folder (or .mcap / .db3 file)")
    parser.add_argument("--out", type=Path, required=True, help="weights file to write (e.g. weights.pt)")
    parser.add_argument("--budget-s", type=float, default=300.0, help="training time in seconds (default 300)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--max-frames", type=int, default=None, help="use the first this many pairs")
    parser.add_argument(
        "--config", type=Path, default=Path("config/replay.yaml"), help="replay YAML (names the nodes' pipeline.yaml)"
    )
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    parser.set_defaults(handler=_train)
