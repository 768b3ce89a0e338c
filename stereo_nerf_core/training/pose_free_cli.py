"""The ``pose-free`` subcommand: reconstruct a bag without its poses (stage 1 from the priors, stage 2 with the field).

``stereo-nerf pose-free BAG --out DIR`` writes into DIR:

- ``poses.json``: per frame index, the final ``T_world_camera`` (4x4, metres), the stage-1 pose and the
  prior's learnt depth scale and shift;
- ``metrics.json``: frame count, timings and, when the bag has ground-truth poses, ATE (rigid alignment)
  and RPE of the identity start, of stage 1 and of the final poses, plus the rendered keyframes'
  tissue depth metrics and PSNR;
- ``model.pt``: the stage-2 trainer's checkpoint (``Trainer.load``), unless ``--field-steps 0``.

Parameters come from the ``pose_free`` and ``trainer`` groups of ``--config``; the options override them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from stereo_nerf_core.config import load_config


def add_pose_free_parser(subparsers: argparse._SubParsersAction) -> None:
    """``pose-free BAG --out DIR [options]``."""
    parser = subparsers.add_parser(
        "pose-free",
        help="reconstruct a bag without its poses: poses from the depth priors, then jointly with the field",
        description="Pose-free reconstruction (NoPe-NeRF line): relative poses and prior scale/shift from chamfer "
        "and photometric losses between consecutive frames, then a field trained with pose refinement. "
        "Writes poses.json, metrics.json and model.pt into --out.",
    )
    parser.add_argument("bag", type=Path, help="rosbag2 folder (or .mcap / .db3 file)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument(
        "--config", type=Path, default=Path("config/replay.yaml"), help="replay YAML (names the nodes' pipeline.yaml)"
    )
    parser.add_argument("--every", type=int, default=1, help="use every N-th stereo pair (default 1)")
    parser.add_argument("--downscale", type=int, default=1, help="shrink images by this integer factor (default 1)")
    parser.add_argument("--max-frames", type=int, default=None, help="stop after this many pairs")
    parser.add_argument(
        "--init",
        choices=("identity", "odometry"),
        default=None,
        help="start poses: identity, or the bag's /tf (odometry / kinematics); default pose_free.initial_poses",
    )
    parser.add_argument("--iterations", type=int, default=None, help="stage-1 iterations (pose_free.iterations)")
    parser.add_argument("--field-steps", type=int, default=None, help="stage-2 trainer steps (pose_free.field_steps)")
    parser.add_argument("--device", default="auto", help="torch device of stage 2: auto, cpu, cuda")
    parser.set_defaults(handler=_pose_free)


def _pose_free(args: argparse.Namespace) -> int:
    from stereo_nerf_core.training.pose_free_run import (
        keyframes_for_pose_free,
        run_pose_free,
        trajectory_scores,
        view_scores,
    )

    config = load_config(args.config)
    overrides = {"initial_poses": args.init, "iterations": args.iterations, "field_steps": args.field_steps}
    pose_free = dataclasses.replace(config.pose_free, **{k: v for k, v in overrides.items() if v is not None})
    config = dataclasses.replace(config, pose_free=pose_free)
    start = time.perf_counter()
    data = keyframes_for_pose_free(
        args.bag, config, every=args.every, downscale=args.downscale, max_frames=args.max_frames
    )
    loaded = time.perf_counter()
    run = run_pose_free([item.keyframe for item in data.frames], pose_free, config.trainer, device=args.device)
    done = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    poses = {
        str(k.index): {
            "T_world_camera": final.tolist(),
            "stage1_T_world_camera": first.tolist(),
            "depth_scale": float(scale),
            "depth_shift_m": float(shift),
        }
        for k, final, first, scale, shift in zip(
            run.keyframes, run.poses, run.alignment.poses, run.alignment.scales, run.alignment.shifts_m, strict=True
        )
    }
    (args.out / "poses.json").write_text(json.dumps(poses, indent=1) + "\n")
    metrics: dict[str, Any] = {
        "frames": len(run.keyframes),
        "initial_poses": pose_free.initial_poses,
        "seconds": {"keyframes": loaded - start, "reconstruction": done - loaded},
        "stage1_final_loss": run.alignment.losses[-1] if run.alignment.losses else None,
    }
    if data.truth is not None:
        start_poses = np.stack([item.keyframe.T_world_camera for item in data.frames])
        metrics["trajectory"] = {
            "start": trajectory_scores(start_poses, data.truth),
            "stage1": trajectory_scores(run.alignment.poses, data.truth),
            "final": trajectory_scores(run.poses, data.truth),
        }
    if run.trainer is not None:
        metrics["views"] = view_scores(
            run.trainer,
            run.keyframes,
            [item.ground_truth_depth for item in data.frames],
            [item.tissue for item in data.frames],
        )
        run.trainer.save(args.out / "model.pt")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    summary = f"pose-free: {len(run.keyframes)} frames in {done - loaded:.1f} s"
    if "trajectory" in metrics:
        trajectory = metrics["trajectory"]
        summary += (
            f"; ATE {1000 * trajectory['start']['ate']['rmse_m']:.3f} mm (start) -> "
            f"{1000 * trajectory['stage1']['ate']['rmse_m']:.3f} mm (stage 1) -> "
            f"{1000 * trajectory['final']['ate']['rmse_m']:.3f} mm (final)"
        )
    print(summary + f"; outputs in {args.out}")
    return 0
