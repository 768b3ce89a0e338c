"""Accuracy of every depth prior backend on real data: SCARED d5k1 (depth) and KITTI 000005 (disparity).

Usage: python benchmarks/frontend_accuracy.py [--data ../shared/data] [--model MODEL.pt]

SCARED d5k1 (structured-light truth, calib_4_1_fixed.json, left map): the harness of
stereo_nerf_core.eval.stereo_accuracy at half resolution (640x512), depth cap 300 mm, no median
scaling: coverage, abs_rel, a1, median absolute error in mm. KITTI 000005 (lidar truth): EPE (px),
D1 (error > 3 px and > 5 %) and coverage on the truth pixels, with a 2-100 m depth range.
Rows: the default prior (sgbm), its raw unfilled result, the previous default (full-size SGBM,
no row alignment, no filling), seeded, torchscript (only with --model), and plain OpenCV SGBM.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.eval.stereo_accuracy import rectified_inputs, score_kitti, score_scared
from stereo_nerf_core.frontend.depth_prior import PriorBackend, make_prior_backend
from stereo_nerf_core.frontend.sgbm_baseline import OpenCvSgbmBaseline
from stereo_nerf_core.io.datasets import load_kitti_pair, load_scared_keyframe

REPO = Path(__file__).resolve().parents[1]
KITTI_MIN_DEPTH_M, KITTI_MAX_DEPTH_M = 2.0, 100.0


def rows(model: Path | None) -> list[tuple[str, DepthPriorConfig | None]]:
    """(name, config) of every row; ``None`` is plain OpenCV SGBM."""
    default = DepthPriorConfig()
    listed: list[tuple[str, DepthPriorConfig | None]] = [
        ("sgbm (default)", default),
        ("sgbm raw (fill_holes false)", dataclasses.replace(default, fill_holes=False)),
        (
            "sgbm full-size, no alignment/fill",
            dataclasses.replace(default, sgbm_downscale=1, vertical_correction=False, fill_holes=False),
        ),
        ("seeded", dataclasses.replace(default, backend="seeded")),
        ("seeded raw (fill_holes false)", dataclasses.replace(default, backend="seeded", fill_holes=False)),
    ]
    if model is not None:
        listed.append(("torchscript", dataclasses.replace(default, backend="torchscript", model_path=str(model))))
    listed.append(("plain OpenCV SGBM (block 5)", None))
    return listed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="shared real data folder")
    parser.add_argument("--model", type=Path, default=None, help="TorchScript stereo network for the torchscript row")
    args = parser.parse_args()
    scared = args.data / "scared_d5k1_raw_gtdepth"
    kitti = args.data / "kitti2015_stereo_samples" / "000005_10_with_calib"
    missing = [str(folder) for folder in (scared, kitti) if not folder.is_dir()]
    if missing:
        print(f"frontend_accuracy: the shared real data is missing: {', '.join(missing)}; pass --data", file=sys.stderr)
        return 2
    sample = load_scared_keyframe(
        scared / "left_51.png",
        scared / "right_51.png",
        scared / "calib_4_1_fixed.json",
        left_range_map=scared / "left_depthmap_51.png",
    )
    inputs = rectified_inputs(sample, scale=0.5)
    pair = load_kitti_pair(
        kitti / "stereo_left.png", kitti / "stereo_right.png", kitti / "Calib.txt", kitti / "gt_disparity.png"
    )
    if args.model is None:
        print("(no --model: the torchscript backend needs a TorchScript stereo network and is left out)")
    print(f"{'':<36}| {'SCARED d5k1, 640x512, depth <= 300 mm':<40}| KITTI 000005, 2-100 m")
    scared_header = f"{'cov':>6}{'abs_rel':>8}{'a1':>7}{'med mm':>8}{'s':>7}"
    print(f"{'backend':<36}| {scared_header}   | {'EPE px':>7}{'D1 %':>6}{'cov':>7}")
    for name, config in rows(args.model):
        scared_backend: PriorBackend = OpenCvSgbmBaseline(96) if config is None else make_prior_backend(config)
        kitti_backend: PriorBackend = (
            OpenCvSgbmBaseline(192)
            if config is None
            else make_prior_backend(
                dataclasses.replace(config, min_depth_m=KITTI_MIN_DEPTH_M, max_depth_m=KITTI_MAX_DEPTH_M)
            )
        )
        score = score_scared(sample, scared_backend, inputs=inputs, max_depth_m=0.3)
        metrics = score.metrics
        disparity = score_kitti(pair, kitti_backend)
        print(
            f"{name:<36}| {metrics.coverage:>6.3f}{metrics.abs_rel:>8.4f}{metrics.a1:>7.3f}"
            f"{1000 * metrics.median_abs_error_m:>8.2f}{score.seconds:>7.2f}   | {disparity.epe_px:>7.2f}"
            f"{100 * disparity.d1:>6.1f}{disparity.coverage:>7.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
