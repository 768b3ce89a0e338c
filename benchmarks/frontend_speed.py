"""Front-end speed at 640x512 on this machine: milliseconds per frame and frames per second per stage.

Usage: python benchmarks/frontend_speed.py [--data ../shared/data] [--repeats 20] [--model MODEL.pt]

Real data: the SCARED d5k1 pair. Rectification runs on the raw pair resized to 640x512 (with the
calibration resampled to that size); the priors and the confidence run on the rectified pair at
640x512 (half of the rectified 1280x1024). Stages: rectification, every prior backend (the
torchscript row uses --model, else a two-layer stand-in network that only measures the plumbing),
confidence (assess_prior), and the default prior with confidence, which is the live rate.
Each row is the median (and the fastest) of --repeats runs after two warm-up runs, with frames per
second from the median and the process's CPU time per frame (all threads; robust to other load).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.eval.stereo_accuracy import rectified_inputs
from stereo_nerf_core.frontend.confidence import assess_prior
from stereo_nerf_core.frontend.depth_prior import PriorBackend, make_prior_backend
from stereo_nerf_core.geometry.camera import RectifiedView, StereoCalibration
from stereo_nerf_core.io.datasets import load_scared_keyframe

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 640, 512


def scaled_raw_calibration(calibration: StereoCalibration, width: int, height: int) -> StereoCalibration:
    """The raw rig resampled to ``width`` x ``height`` (intrinsics and projections scaled, rotations kept)."""
    sx, sy = width / calibration.size[0], height / calibration.size[1]

    def view(original: RectifiedView) -> RectifiedView:
        P = original.P.copy()
        P[0] *= sx
        P[1] *= sy
        P[0, 2] += 0.5 * sx - 0.5
        P[1, 2] += 0.5 * sy - 0.5
        return RectifiedView(original.camera.scaled(width, height), original.R, P)

    return StereoCalibration(view(calibration.left), view(calibration.right))


def stand_in_model(path: Path) -> Path:
    """A two-layer convolutional network scripted to ``path`` (the torchscript row's plumbing cost)."""
    import torch

    class StandIn(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = torch.nn.Conv2d(6, 8, 3, padding=1)
            self.head = torch.nn.Conv2d(8, 1, 3, padding=1)

        def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
            return 20.0 + torch.relu(self.head(torch.relu(self.features(torch.cat([left, right], 1)))))

    torch.jit.script(StandIn()).save(str(path))
    return path


def timed(function: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """(median, fastest, median CPU) seconds of ``function`` over ``repeats`` runs after two warm-up runs.

    CPU time is this process's, all threads together: unlike wall time it hardly changes when other
    processes share the machine."""
    function()
    function()
    seconds, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(seconds)), float(np.min(seconds)), float(np.median(cpu))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="shared real data folder")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs per stage")
    parser.add_argument("--model", type=Path, default=None, help="TorchScript stereo network for the torchscript row")
    args = parser.parse_args()
    folder = args.data / "scared_d5k1_raw_gtdepth"
    if not folder.is_dir():
        print(
            f"frontend_speed: the shared real data is not at {args.data} (expected {folder}); pass --data",
            file=sys.stderr,
        )
        return 2
    sample = load_scared_keyframe(
        folder / "left_51.png",
        folder / "right_51.png",
        folder / "calib_4_1_fixed.json",
        left_range_map=folder / "left_depthmap_51.png",
    )
    raw_left = cv2.resize(sample.left, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    raw_right = cv2.resize(sample.right, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    raw_calibration = scaled_raw_calibration(sample.calibration, WIDTH, HEIGHT)
    _ = raw_calibration.maps  # the maps are built once per calibration, as in the pipeline
    left, right, _ = rectified_inputs(sample, scale=0.5)
    calibration = sample.calibration.rectified_scaled(left.shape[1], left.shape[0])
    default = DepthPriorConfig()
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model if args.model is not None else stand_in_model(Path(scratch) / "stand_in.pt")
        backends: list[tuple[str, PriorBackend]] = [
            ("prior sgbm (default)", make_prior_backend(default)),
            ("prior sgbm, no filling", make_prior_backend(dataclasses.replace(default, fill_holes=False))),
            ("prior sgbm, full-size matching", make_prior_backend(dataclasses.replace(default, sgbm_downscale=1))),
            ("prior seeded", make_prior_backend(dataclasses.replace(default, backend="seeded"))),
            (
                "prior torchscript" + ("" if args.model else " (stand-in net)"),
                make_prior_backend(
                    dataclasses.replace(default, backend="torchscript", model_path=str(model), device="cpu")
                ),
            ),
        ]
        prior = backends[0][1].estimate(left, right, calibration)
        rows: list[tuple[str, tuple[float, float, float]]] = [
            ("rectification", timed(lambda: raw_calibration.rectify(raw_left, raw_right), args.repeats))
        ]
        for name, backend in backends:
            repeats = args.repeats if "seeded" not in name else max(3, args.repeats // 4)
            rows.append((name, timed(lambda b=backend: b.estimate(left, right, calibration), repeats)))  # type: ignore[misc]

        def confidence() -> object:
            return assess_prior(prior, left, min_depth_m=default.min_depth_m, max_depth_m=default.max_depth_m)

        def live() -> object:
            estimate = backends[0][1].estimate(left, right, calibration)
            return assess_prior(estimate, left, min_depth_m=default.min_depth_m, max_depth_m=default.max_depth_m)

        rows.append(("confidence", timed(confidence, args.repeats)))
        rows.append(("default prior + confidence", timed(live, args.repeats)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"front-end speed at {WIDTH}x{HEIGHT} (SCARED d5k1), {os.cpu_count()} CPUs, OpenCV threads "
        f"{cv2.getNumThreads()}, load average {load:.2f} at the end"
    )
    print(f"{'stage':<40}{'ms/frame':>10}{'fastest':>10}{'frames/s':>10}{'CPU ms':>10}")
    for name, (median, fastest, cpu) in rows:
        print(f"{name:<40}{1000 * median:>10.1f}{1000 * fastest:>10.1f}{1 / median:>10.1f}{1000 * cpu:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
