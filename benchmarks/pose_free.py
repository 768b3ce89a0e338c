"""Pose-free reconstruction on the sample bag, against a run with the ground-truth poses.

Usage: python benchmarks/pose_free.py [BAG] [--config config/replay.yaml] [--every 1] [--downscale 1]
       [--field-steps N] [--score-every 4] [--threads N]

Keyframes: every ``--every``-th pair through the replay's stages (rectification, SGBM prior, masks).
Pose-free run: every pose starts at the first frame's (identity start; the bag's poses are not read),
stage 1 (``pose_free`` group: chamfer + photometric losses on the priors), then stage 2 (a NeRF with
the ``trainer`` group, ``pose_refinement`` on, ``pose_free.field_steps`` steps). Reference run: the same
trainer and steps with the ground-truth poses and no pose refinement. Printed: ATE (rigid, i.e. metric,
alignment) and RPE (one-frame steps) of the identity start, stage 1 and the final poses; tissue depth
abs_rel / coverage and tissue PSNR of keyframe renders (every ``--score-every``-th keyframe, guided by
its prior) for both runs; timings. The sample bag's trainer settings here are the CI-sized ones of
``tests/training/test_sample_bag.py`` (512 rays, 8 hash levels of 2^16 entries, finest 512 cells).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from stereo_nerf_core.config import load_config
from stereo_nerf_core.training.pose_free_run import (
    keyframes_for_pose_free,
    run_pose_free,
    trajectory_scores,
    view_scores,
)
from stereo_nerf_core.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]


def _trajectory_line(name: str, scores: dict) -> str:
    ate, rpe = scores["ate"], scores["rpe"]
    return (
        f"  {name:<22} ATE rmse {1000 * ate['rmse_m']:7.3f} mm (max {1000 * ate['max_m']:.3f})   "
        f"RPE {1000 * rpe['translation_rmse_m']:.3f} mm / {rpe['rotation_rmse_deg']:.3f} deg per frame"
    )


def _view_line(name: str, scores: dict) -> str:
    depth = scores["depth"]
    return (
        f"  {name:<22} tissue abs_rel {depth['abs_rel']:.5f} coverage {depth['coverage']:.3f}   "
        f"PSNR {scores['psnr_db']:.2f} dB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, nargs="?", default=REPO / "rosbags" / "sample_endoscope")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "replay.yaml")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--downscale", type=int, default=1)
    parser.add_argument("--field-steps", type=int, default=None, help="default: pose_free.field_steps")
    parser.add_argument("--score-every", type=int, default=4, help="render every N-th keyframe for the scores")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(args.config)
    pose_free = config.pose_free
    if args.field_steps is not None:
        pose_free = dataclasses.replace(pose_free, field_steps=args.field_steps)
    trainer_config = dataclasses.replace(
        config.trainer, rays_per_batch=512, grid_levels=8, grid_log2_table_size=16, grid_max_resolution=512,
        uniform_samples=4,
    )
    start = time.perf_counter()
    data = keyframes_for_pose_free(args.bag, config, every=args.every, downscale=args.downscale)
    assert data.truth is not None, "the benchmark needs a bag with ground-truth poses"
    keyframes = [item.keyframe for item in data.frames]
    print(
        f"pose-free benchmark: {len(keyframes)} keyframes {keyframes[0].width}x{keyframes[0].height}, "
        f"stage 1 {pose_free.iterations} iterations, stage 2 {pose_free.field_steps} trainer steps; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"keyframes in {time.perf_counter() - start:.1f} s"
    )
    stage1_time: list[float] = []
    began = time.perf_counter()

    def progress(iteration: int, _: dict[str, float]) -> None:
        if iteration == pose_free.iterations - 1:
            stage1_time.append(time.perf_counter() - began)

    run = run_pose_free(keyframes, pose_free, trainer_config, device="cpu", progress=progress)
    pose_free_seconds = time.perf_counter() - began
    identity = np.stack([k.T_world_camera for k in keyframes])
    print(f"pose-free run: stage 1 {stage1_time[0] if stage1_time else 0.0:.1f} s, total {pose_free_seconds:.1f} s")
    print(_trajectory_line("identity start", trajectory_scores(identity, data.truth)))
    print(_trajectory_line("stage 1 (priors)", trajectory_scores(run.alignment.poses, data.truth)))
    print(_trajectory_line("final (with field)", trajectory_scores(run.poses, data.truth)))
    print(f"  prior scales {run.alignment.scales.min():.4f} .. {run.alignment.scales.max():.4f}, shifts "
          f"{1000 * run.alignment.shifts_m.min():.3f} .. {1000 * run.alignment.shifts_m.max():.3f} mm")
    if run.trainer is None:
        return
    chosen = list(range(0, len(keyframes), args.score_every))
    truth_depth = [data.frames[i].ground_truth_depth for i in chosen]
    tissue = [data.frames[i].tissue for i in chosen]
    free_views = view_scores(run.trainer, [run.keyframes[i] for i in chosen], truth_depth, tissue)

    began = time.perf_counter()
    reference = Trainer(trainer_config, device="cpu")
    known = [dataclasses.replace(k, T_world_camera=pose) for k, pose in zip(keyframes, data.truth, strict=True)]
    for keyframe in known:
        reference.add_keyframe(keyframe)
    reference.train(max_steps=pose_free.field_steps)
    reference_seconds = time.perf_counter() - began
    known_views = view_scores(reference, [known[i] for i in chosen], truth_depth, tissue)
    print(f"views ({len(chosen)} keyframes rendered; ground-truth-pose run trained in {reference_seconds:.1f} s):")
    print(_view_line("pose-free", free_views))
    print(_view_line("ground-truth poses", known_views))
    ratio = free_views["depth"]["abs_rel"] / known_views["depth"]["abs_rel"]
    print(f"  abs_rel ratio pose-free / ground-truth poses: {ratio:.3f}")


if __name__ == "__main__":
    main()
