"""Deforming tissue on a static camera: the EndoNeRF pulling clip's held-out times, with the trivial baselines.

Usage: python benchmarks/endonerf_video.py VIDEO POSES_BOUNDS OUT [--size WxH] [--budget-s S] [--modes ...]
       [--rays N] [--samples COARSE IMPORTANCE] [--space-time CELLS ...] [--trainer NAME=VALUE ...]
       [--train-frames N]

Frame i is held out when (i - 1) % 8 == 0 (EndoNeRF's split); the others train one trainer per mode
(static ``nerf``, ``deformable`` and ``deformable_sdf`` by default) for ``--budget-s`` seconds on the
CPU (CUDA when torch has it), stamped at the video's frame rate, identity poses, no depth prior
(this copy has none), every pixel scored (it has no tool masks). The scene box is the view frustum
between half and all of the largest LLFF depth bound, read as millimetres. Prints one line per method
and baseline, ``<name>: held-out PSNR <x> dB SSIM <y> seconds <s>`` (a method's line ends with its steps and its
PSNR on four training frames: how well it fits what it saw), writes ``OUT/endonerf_video.json``
and ``OUT/endonerf_video.png`` (the first held-out frame, each prediction and its error x4). ``--samples`` and
``--space-time`` set the samples per ray and the deformable models' space-time levels, ``--trainer`` any other
``trainer`` parameter (``grid_log2_table_size=19``), for measuring candidates; ``--train-frames N`` trains on N
evenly spaced training frames only, to measure how the fit depends on the number of distinct frames.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.eval.image_metrics import psnr
from stereo_nerf_core.eval.novel_views import load_lpips, ssim
from stereo_nerf_core.eval.time_baselines import (
    BASELINES,
    endonerf_held_out,
    neighbour_mean_prediction,
    previous_frame_prediction,
)
from stereo_nerf_core.importers.endonerf import read_poses_bounds
from stereo_nerf_core.importers.video import read_video, video_poses
from stereo_nerf_core.models.deformable import DeformableFieldConfig
from stereo_nerf_core.render.renderer import SamplingConfig
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.scene_bounds import frustum_bounds
from stereo_nerf_core.training.setup import default_field_config
from stereo_nerf_core.training.trainer import Trainer

F32 = NDArray[np.float32]


def trainer_config(mode: str, *, rays: int, span_s: float, coarse: int = 24, importance: int = 24) -> TrainerConfig:
    """Photometric training without a prior (no depth loss, refinement, recency bias or right camera), with hash
    tables of 2**19 entries a level."""
    return TrainerConfig(
        mode=mode,
        rays_per_batch=rays,
        time_span_s=span_s,
        binocular=False,
        recency_share=0.0,
        depth_loss_weight=0.0,
        opacity_weight=0.0,
        depth_refine_rounds=0,
        coarse_samples=coarse,
        importance_samples=importance,
        grid_log2_table_size=19,  # 2**16 entries a level cannot hold the clip's texture: 25.20 -> 27.05 dB at 120 s
        lr_decay_steps=3000,
        mask_loss_weight=0.0,
        ssim_weight=0.0,
    )


def with_overrides(config: TrainerConfig, overrides: list[str]) -> TrainerConfig:
    """``config`` with ``NAME=VALUE`` trainer parameters, each value read as its field's type."""
    values: dict[str, Any] = {}
    for item in overrides:
        name, _, text = item.partition("=")
        current = getattr(config, name)  # AttributeError names an unknown parameter
        values[name] = type(current)(text) if not isinstance(current, bool) else text.lower() == "true"
    return replace(config, **values)


def scores(predictions: dict[int, F32], truth: dict[int, F32], lpips_fn: object) -> dict[str, float]:
    """Mean held-out PSNR (dB), SSIM and LPIPS (NaN when unavailable) over the held-out frames."""
    full = None
    lpips_values = []
    for index, image in predictions.items():
        if lpips_fn is not None:
            full = np.ones(image.shape[:2], bool)
            lpips_values.append(lpips_fn(image, truth[index], full))  # type: ignore[operator]
    return {
        "psnr_db": float(np.mean([psnr(predictions[i], truth[i]) for i in predictions])),
        "ssim": float(np.mean([ssim(predictions[i], truth[i]) for i in predictions])),
        "lpips": float(np.mean(lpips_values)) if lpips_values else float("nan"),
    }


def print_line(name: str, entry: dict[str, float]) -> None:
    """``<name>: held-out PSNR <x> dB SSIM <y> seconds <s>`` (LPIPS and steps when there are any), flushed."""
    extra = f" LPIPS {entry['lpips']:.3f}" if np.isfinite(entry["lpips"]) else ""
    steps = f" ({int(entry['steps'])} steps, train PSNR {entry['train_psnr_db']:.2f} dB)" if "steps" in entry else ""
    scores_text = f"held-out PSNR {entry['psnr_db']:.2f} dB SSIM {entry['ssim']:.3f}{extra}"
    line = f"{name}: {scores_text} seconds {entry['seconds']:.0f}"
    print(line + steps, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("poses_bounds", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", default="320x256", help="training and scoring resolution WxH")
    parser.add_argument("--budget-s", type=float, default=600.0, help="training seconds per method")
    parser.add_argument("--modes", nargs="+", default=["nerf", "deformable", "deformable_sdf"])
    parser.add_argument("--rays", type=int, default=1024, help="rays per training step")
    parser.add_argument(
        "--train-frames", type=int, default=0, help="train on this many evenly spaced training frames (0: all)"
    )
    parser.add_argument(
        "--space-time",
        type=int,
        nargs="+",
        default=None,
        metavar="CELLS",
        help="deformable models: cells per spatial axis of each space-time level (default 16 48)",
    )
    parser.add_argument(
        "--trainer",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="other trainer parameters, e.g. grid_log2_table_size=19 lr_decay_steps=2000",
    )
    parser.add_argument(
        "--samples",
        type=int,
        nargs=2,
        default=[24, 24],
        metavar=("COARSE", "IMPORTANCE"),
        help="samples per ray: uniform, then drawn from their weights",
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    frames, fps = read_video(args.video)
    rate = fps or 30.0
    array = read_poses_bounds(args.poses_bounds)
    poses = video_poses(args.poses_bounds, len(frames))
    full_h, full_w, focal = array[0, 4], array[0, 9], array[0, 14]
    K = np.array([[focal * width / full_w, 0, width / 2.0], [0, focal * height / full_h, height / 2.0], [0, 0, 1.0]])
    images = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0 for f in frames]
    training = [i for i in range(len(frames)) if not endonerf_held_out(i)]
    held_out = [i for i in range(len(frames)) if endonerf_held_out(i)]
    if 0 < args.train_frames < len(training):
        training = [training[k] for k in np.linspace(0, len(training) - 1, args.train_frames).round().astype(int)]
    fitted = [training[k] for k in np.linspace(0, len(training) - 1, min(4, len(training))).round().astype(int)]
    truth = {i: images[i] for i in held_out}
    far_m = float(array[:, 16].max()) / 1000.0
    keyframes = [
        TrainingKeyframe(
            index=i,
            stamp_ns=round(i * 1e9 / rate),
            rgb=(images[i] * 255.0 + 0.5).astype(np.uint8),
            depth=np.zeros((height, width), np.float32),
            confidence=np.zeros((height, width), np.float32),
            valid=np.ones((height, width), bool),
            K=K,
            T_world_camera=poses[i],
        )
        for i in training
    ]
    box = frustum_bounds(keyframes, 0.5 * far_m, far_m)
    lpips_fn, lpips_reason = load_lpips()
    if lpips_fn is None:
        print(f"LPIPS unavailable: {lpips_reason}")
    print(
        f"{args.video.name}: {len(frames)} frames at {rate:g} Hz, {len(training)} train, {len(held_out)} held out "
        f"({held_out}), {width}x{height}, device {'cuda' if torch.cuda.is_available() else 'cpu'}"
    )
    results: dict[str, dict[str, float]] = {}
    predictions: dict[str, dict[int, F32]] = {
        BASELINES[0]: {i: previous_frame_prediction(i, images, training) for i in held_out},
        BASELINES[1]: {i: neighbour_mean_prediction(i, images, training) for i in held_out},
    }
    for name in BASELINES:
        results[name] = {**scores(predictions[name], truth, lpips_fn), "seconds": 0.0}
        print_line(name, results[name])
    for mode in args.modes:
        coarse, importance = args.samples
        config = trainer_config(
            mode, rays=args.rays, span_s=(len(frames) - 1) / rate, coarse=coarse, importance=importance
        )
        config = with_overrides(config, args.trainer)
        sampling = SamplingConfig(
            near_m=0.5 * far_m * 0.99,
            far_m=far_m * 1.01,
            uniform_count=config.coarse_samples,
            importance_count=config.importance_samples,
            chunk_size=4096,
        )
        field_config = default_field_config(config, box, keyframes)
        if args.space_time and isinstance(field_config, DeformableFieldConfig):
            levels = tuple(args.space_time)
            field_config = replace(
                field_config, space_time=replace(field_config.space_time, spatial_resolutions=levels)
            )
        trainer = Trainer(config, bounds=box, sampling=sampling, field_config=field_config)
        for keyframe in keyframes:
            trainer.add_keyframe(keyframe)
        start = time.perf_counter()
        summary = trainer.train(budget_s=args.budget_s)
        trained = time.perf_counter() - start
        rendered = {
            i: trainer.render(K, poses[i], width, height, stamp_ns=round(i * 1e9 / rate)).rgb.astype(np.float32)
            for i in held_out + fitted
        }
        predictions[mode] = {i: rendered[i] for i in held_out}
        train_psnr = float(np.mean([psnr(rendered[i], images[i]) for i in fitted]))
        results[mode] = {
            **scores(predictions[mode], truth, lpips_fn),
            "seconds": trained,
            "steps": summary.steps,
            "train_psnr_db": train_psnr,
        }
        print_line(mode, results[mode])
    print("== summary ==")
    for name, entry in results.items():
        print_line(name, entry)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "endonerf_video.json").write_text(
        json.dumps(
            {
                "size": [width, height],
                "budget_s": args.budget_s,
                "held_out": held_out,
                "results": {
                    name: {key: (None if value != value else value) for key, value in entry.items()}  # NaN: null
                    for name, entry in results.items()
                },
                "lpips_unavailable": lpips_reason,
            },
            indent=2,
        )
        + "\n"
    )
    first = held_out[0]
    tiles = [truth[first]] + [predictions[name][first] for name in predictions]
    errors = [np.zeros_like(truth[first])] + [
        np.clip(4 * np.abs(p[first] - truth[first]), 0, 1) for p in predictions.values()
    ]
    labels = ["held-out frame", *predictions]
    rows = []
    for row in (tiles, errors):
        rows.append(np.concatenate([(np.clip(t, 0, 1) * 255).astype(np.uint8)[..., ::-1] for t in row], axis=1))
    figure = np.ascontiguousarray(np.concatenate(rows, axis=0))
    for k, label in enumerate(labels):
        cv2.putText(figure, label[:28], (k * width + 4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    cv2.imwrite(str(args.out / "endonerf_video.png"), figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
