"""Training speed (rays per second) and render time of a 640x512 frame, on the CPU and on CUDA when present.

Usage: python benchmarks/train_speed.py [BAG] [--steps 100] [--config config/replay.yaml]

Keyframes are every 2nd pair of the sample bag (320x256, binocular) with the replay's stages; the
trainer uses the ``trainer`` group of the config. A 640x512 view (the bag's optics scaled by 2) of a
keyframe pose is rendered twice: guided by the keyframe's prior (upsampled) and without a prior
(coarse + importance sampling). The first steps (field build, warm-up) are not timed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from stereo_nerf_core.config import TrainerConfig, load_config
from stereo_nerf_core.training.bag_keyframes import keyframes_from_bag
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 640, 512


def scaled_view(keyframe: TrainingKeyframe) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(K, prior depth, prior confidence) of the keyframe's view at 640x512 (pixel-centre scaling, nearest prior)."""
    sx, sy = WIDTH / keyframe.width, HEIGHT / keyframe.height
    K = keyframe.K.copy()
    K[0, 0] *= sx
    K[1, 1] *= sy
    K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
    K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
    depth = cv2.resize(keyframe.depth, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
    confidence = cv2.resize(keyframe.confidence, (WIDTH, HEIGHT), interpolation=cv2.INTER_NEAREST)
    return K, depth, confidence


def measure(device: str, keyframes: list[TrainingKeyframe], config: TrainerConfig, steps: int) -> None:
    """Train ``steps`` steps on ``device`` and time them, then time the two 640x512 renders."""
    trainer = Trainer(config, device=device)
    for keyframe in keyframes:
        trainer.add_keyframe(keyframe)
    trainer.train(max_steps=3)  # builds the field, warms up
    summary = trainer.train(max_steps=steps)
    K, depth, confidence = scaled_view(keyframes[len(keyframes) // 2])
    pose = keyframes[len(keyframes) // 2].T_world_camera
    timings = {}
    for name, prior in (("guided", (depth, confidence)), ("unguided", (None, None))):
        start = time.perf_counter()
        trainer.render(K, pose, WIDTH, HEIGHT, depth_prior=prior[0], confidence=prior[1])
        if trainer.device.type == "cuda":
            torch.cuda.synchronize()
        timings[name] = time.perf_counter() - start
    print(
        f"{device.upper():<5} {summary.rays_per_second:>10.0f} rays/s  {1000 * summary.seconds / steps:>8.1f} ms/step  "
        f"render {WIDTH}x{HEIGHT}: guided {timings['guided']:.2f} s, unguided {timings['unguided']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", type=Path, nargs="?", default=REPO / "rosbags" / "sample_endoscope")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "replay.yaml")
    parser.add_argument("--steps", type=int, default=100, help="timed training steps per device")
    args = parser.parse_args()
    config = load_config(args.config)
    keyframes = [item.keyframe for item in keyframes_from_bag(args.bag, config, every=2, binocular=True)]
    trainer = config.trainer
    print(
        f"train speed: {len(keyframes)} keyframes {keyframes[0].width}x{keyframes[0].height}, mode {trainer.mode}, "
        f"{trainer.rays_per_batch} rays/step, grid {trainer.grid_levels} levels 2^{trainer.grid_log2_table_size}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads of {os.cpu_count()} CPUs"
    )
    measure("cpu", keyframes, trainer, args.steps)
    if torch.cuda.is_available():
        measure("cuda", keyframes, trainer, args.steps)
    else:
        print("CUDA: not available")


if __name__ == "__main__":
    main()
