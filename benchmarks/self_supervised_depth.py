"""Self-supervised depth network vs the raw SGBM prior on the sample bag (CPU by default).

Usage: python benchmarks/self_supervised_depth.py [--bag rosbags/sample_endoscope] [--max-steps 400]
       [--budget-s 1800] [--downscale 2] [--threads N] [--weights results/self_supervised/weights.pt]

Trains the network on the bag's stereo stream for --max-steps steps (at most --budget-s seconds; the
learning rate anneals over the run, by steps or time, whichever is further) (left-right view synthesis
through the rig, consecutive frames through the /tf poses, auto-mask, minimum reprojection), writes
the weights, loads them through the depth-prior registry (``depth_prior.backend: self_supervised``)
and scores every frame against the ground truth (rectified left grid, metric, no median scaling,
evaluation depth cap): the network's depth, the raw SGBM prior (matched pixels only, hole filling
removed) and the default filled SGBM prior, over all pixels and over tissue (instruments and specular
highlights left out). Prints coverage, abs_rel, rmse and a1 per method, the training steps and the
loss at the start and the end. The network is trained and scored on the same stream (no labels are
used in training, as when it runs online).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from stereo_nerf_core.config import PipelineConfig, load_config
from stereo_nerf_core.eval.depth_metrics import DepthErrorAccumulator
from stereo_nerf_core.eval.specular import specular_mask
from stereo_nerf_core.frontend.depth_prior import make_prior_backend
from stereo_nerf_core.frontend.self_supervised.weights import save_weights
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.spine.frames import FrameAssembler
from stereo_nerf_core.spine.stages import StereoDepthStage
from stereo_nerf_core.training.self_supervised_stream import train_from_bag

REPO = Path(__file__).resolve().parents[1]
METHODS = ("self_supervised", "sgbm_raw", "sgbm_filled")


def score(bag: Path, config: PipelineConfig, weights: Path) -> dict[str, dict[str, DepthErrorAccumulator]]:
    """Pooled metrics per method and region ("all", "tissue") over every frame of ``bag``."""
    network = make_prior_backend(
        dataclasses.replace(config.depth_prior, backend="self_supervised", self_supervised_weights_path=str(weights))
    )
    stage = StereoDepthStage(config.depth_prior)
    evaluation = config.evaluation
    accumulators = {
        method: {
            region: DepthErrorAccumulator(min_depth_m=evaluation.min_depth_m, max_depth_m=evaluation.max_depth_m)
            for region in ("all", "tissue")
        }
        for method in METHODS
    }
    for frame in FrameAssembler(config.sync).frames_from_bag(bag):
        if frame.ground_truth_depth is None:
            continue
        calibration, left, right = stage.rectify_frame(frame)
        prior = stage.estimate_prior(left, right, calibration)
        truth = rectify_left_depth(calibration, frame.ground_truth_depth)
        instrument = np.zeros(left.shape[:2], bool)
        if frame.instrument_mask is not None:
            instrument = calibration.rectify_left_nearest(frame.instrument_mask.astype(np.uint8)) > 0
        tissue = ~instrument & ~specular_mask(left)
        depths = {
            "self_supervised": network.estimate(left, right, calibration).depth,
            "sgbm_raw": prior.without_filled().depth,
            "sgbm_filled": prior.depth,
        }
        for method, depth in depths.items():
            accumulators[method]["all"].add(depth, truth, None)
            accumulators[method]["tissue"].add(depth, truth, tissue)
    return accumulators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bag", type=Path, default=REPO / "rosbags" / "sample_endoscope")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "replay.yaml")
    parser.add_argument("--max-steps", type=int, default=400, help="training steps (0: until --budget-s)")
    parser.add_argument("--budget-s", type=float, default=1800.0, help="training time cap (s)")
    parser.add_argument("--downscale", type=int, default=None, help="override self_supervised.downscale")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--weights", type=Path, default=REPO / "results" / "self_supervised" / "weights.pt")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = load_config(args.config)
    if args.downscale:
        config = dataclasses.replace(
            config, self_supervised=dataclasses.replace(config.self_supervised, downscale=args.downscale)
        )
    start = time.perf_counter()
    trainer = train_from_bag(args.bag, config, budget_s=args.budget_s, max_steps=args.max_steps or None)
    seconds = time.perf_counter() - start
    save_weights(args.weights, trainer.weights())
    losses = [step.total for step in trainer.history]
    window = max(1, min(20, len(losses) // 4))
    settings = config.self_supervised
    print(
        f"trained {trainer.steps} steps in {seconds:.0f} s (budget {args.budget_s:.0f} s, {torch.get_num_threads()} "
        f"threads) on {len(trainer.buffer)} frames at 1/{settings.downscale} resolution, base_channels "
        f"{settings.base_channels}, pose_source {settings.pose_source}; loss {np.mean(losses[:window]):.4f} -> "
        f"{np.mean(losses[-window:]):.4f}; weights in {args.weights}"
    )
    results = score(args.bag, config, args.weights)
    print(f"\n{'method':<16} {'region':<7} {'coverage':>8} {'abs_rel':>8} {'rmse_mm':>8} {'a1':>6}")
    for method in METHODS:
        for region in ("tissue", "all"):
            metrics = results[method][region].result()
            print(
                f"{method:<16} {region:<7} {metrics.coverage:>8.3f} {metrics.abs_rel:>8.4f} "
                f"{metrics.rmse * 1000:>8.3f} {metrics.a1:>6.3f}"
            )


if __name__ == "__main__":
    main()
