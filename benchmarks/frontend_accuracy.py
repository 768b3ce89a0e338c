"""Accuracy of every depth prior backend on real data: SCARED d5k1 (depth), KITTI 000005 and 000046 (disparity).

Usage: python benchmarks/frontend_accuracy.py [--data ../shared/data] [--model MODEL.pt]

SCARED d5k1 (structured-light truth, calib_4_1_fixed.json, left map): the harness of
stereo_nerf_core.eval.stereo_accuracy at half resolution (640x512), depth cap 300 mm, no median
scaling: coverage, abs_rel, a1, median absolute error in mm. KITTI 000005 and 000046 (lidar truth):
EPE (px), D1 (error > 3 px and > 5 %) and coverage on the truth pixels, with a 2-100 m depth range
(000046 has no calibration file: f 721.5 px, B 0.54 m set that range; the disparity metrics do not
depend on them). Rows: the default prior (sgbm), its raw unfilled result, without the rotation
refinement, filling every hole (the previous default), the first default (full-size SGBM, no row
alignment, no filling), seeded, torchscript (only with --model), and plain OpenCV SGBM.
A second table injects a roll of the right camera (the rig drifted) and compares the default with
and without ``refine_extrinsics``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.eval.stereo_accuracy import rectified_inputs, score_kitti, score_scared
from stereo_nerf_core.frontend.depth_prior import PriorBackend, make_prior_backend
from stereo_nerf_core.frontend.extrinsics import right_intrinsics, rotation_matrix, warp_right
from stereo_nerf_core.frontend.sgbm_baseline import OpenCvSgbmBaseline
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.io.datasets import (
    RawStereoSample,
    RectifiedStereoSample,
    load_kitti_pair,
    load_scared_keyframe,
    read_rgb,
    read_uint16_scaled,
)

REPO = Path(__file__).resolve().parents[1]
KITTI_MIN_DEPTH_M, KITTI_MAX_DEPTH_M = 2.0, 100.0
INJECTED_ROLLS_DEG = (0.5, -0.5)
ScaredInputs = tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float32]]


def rows(model: Path | None) -> list[tuple[str, DepthPriorConfig | None]]:
    """(name, config) of every row; ``None`` is plain OpenCV SGBM."""
    default = DepthPriorConfig()
    listed: list[tuple[str, DepthPriorConfig | None]] = [
        ("sgbm (default)", default),
        ("sgbm raw (fill_holes false)", dataclasses.replace(default, fill_holes=False)),
        ("sgbm, refine_extrinsics false", dataclasses.replace(default, refine_extrinsics=False)),
        ("sgbm, fill everything (spread 0)", dataclasses.replace(default, fill_max_spread_px=0.0)),
        (
            "sgbm full-size, no alignment/fill",
            dataclasses.replace(
                default, sgbm_downscale=1, vertical_correction=False, refine_extrinsics=False, fill_holes=False
            ),
        ),
        ("seeded", dataclasses.replace(default, backend="seeded")),
        ("seeded raw (fill_holes false)", dataclasses.replace(default, backend="seeded", fill_holes=False)),
    ]
    if model is not None:
        listed.append(("torchscript", dataclasses.replace(default, backend="torchscript", model_path=str(model))))
    listed.append(("plain OpenCV SGBM (block 5)", None))
    return listed


def kitti_backend(config: DepthPriorConfig | None) -> PriorBackend:
    """The row's backend for KITTI (2-100 m); plain SGBM searches 192 disparities."""
    if config is None:
        return OpenCvSgbmBaseline(192)
    return make_prior_backend(dataclasses.replace(config, min_depth_m=KITTI_MIN_DEPTH_M, max_depth_m=KITTI_MAX_DEPTH_M))


def kitti_46(folder: Path) -> RectifiedStereoSample:
    """KITTI 000046 (no calibration file): f 721.5 px and B 0.54 m only set the depth range searched."""
    left = read_rgb(folder / "image_2" / "000046_10.png")
    right = read_rgb(folder / "image_3" / "000046_10.png")
    calibration = StereoCalibration.rectified(left.shape[1], left.shape[0], fx=721.5, baseline_m=0.54)
    return RectifiedStereoSample(
        left, right, calibration, read_uint16_scaled(folder / "disp_occ_0" / "000046_10.png", 256)
    )


def rolled(image: NDArray[np.uint8], calibration: StereoCalibration, roll_deg: float) -> NDArray[np.uint8]:
    """The right image of the same rig with its right camera rolled by ``roll_deg``."""
    return warp_right(image, rotation_matrix(0.0, np.radians(roll_deg)).T, right_intrinsics(calibration))


def injected_roll_table(sample: RawStereoSample, inputs: ScaredInputs, pairs: list[RectifiedStereoSample]) -> None:
    """SCARED d5k1 and the KITTI pairs with the right camera rolled: the default with and without refinement."""
    left, right, truth = inputs
    calibration = sample.calibration.rectified_scaled(left.shape[1], left.shape[0])
    print()
    print(
        f"{'injected roll of the right camera':<36}| {'SCARED cov / a1 / med mm':<27}| KITTI 05, 46 raw: EPE px / D1 %"
    )
    for roll in INJECTED_ROLLS_DEG:
        for refine in (False, True):
            config = DepthPriorConfig(refine_extrinsics=refine)
            backend = make_prior_backend(config)
            metrics = score_scared(sample, backend, inputs=(left, rolled(right, calibration, roll), truth)).metrics
            refiner = getattr(backend, "refiner", None)
            kitti = []
            for pair in pairs:
                raw = dataclasses.replace(config, fill_holes=False)
                rolled_pair = dataclasses.replace(pair, right=rolled(pair.right, pair.calibration, roll))
                score = score_kitti(rolled_pair, kitti_backend(raw))
                kitti.append(f"{score.epe_px:.2f} / {100 * score.d1:.1f}")
            measured = f" (finds {refiner.roll_deg:+.2f})" if refiner is not None else ""
            name = f"roll {roll:+.1f} deg, refine {'on' if refine else 'off'}{measured}"
            print(
                f"{name:<40}| {metrics.coverage:.3f} / {metrics.a1:.3f} / {1000 * metrics.median_abs_error_m:5.2f}"
                f"     | {'   '.join(kitti)}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="shared real data folder")
    parser.add_argument("--model", type=Path, default=None, help="TorchScript stereo network for the torchscript row")
    args = parser.parse_args()
    scared = args.data / "scared_d5k1_raw_gtdepth"
    kitti = args.data / "kitti2015_stereo_samples" / "000005_10_with_calib"
    kitti_46_folder = args.data / "kitti2015_stereo_samples" / "000046_10_no_calib"
    missing = [str(folder) for folder in (scared, kitti, kitti_46_folder) if not folder.is_dir()]
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
    pairs = [
        load_kitti_pair(
            kitti / "stereo_left.png", kitti / "stereo_right.png", kitti / "Calib.txt", kitti / "gt_disparity.png"
        ),
        kitti_46(kitti_46_folder),
    ]
    if args.model is None:
        print("(no --model: the torchscript backend needs a TorchScript stereo network and is left out)")
    kitti_header = f"{'EPE px':>7}{'D1 %':>6}{'cov':>7}"
    print(f"{'':<36}| {'SCARED d5k1, 640x512, depth <= 300 mm':<40}| {'KITTI 000005':<21}| KITTI 000046")
    scared_header = f"{'cov':>6}{'abs_rel':>8}{'a1':>7}{'med mm':>8}{'s':>7}"
    print(f"{'backend':<36}| {scared_header}   | {kitti_header} | {kitti_header}")
    for name, config in rows(args.model):
        scared_backend: PriorBackend = OpenCvSgbmBaseline(96) if config is None else make_prior_backend(config)
        score = score_scared(sample, scared_backend, inputs=inputs, max_depth_m=0.3)
        metrics = score.metrics
        kitti_cells = []
        for pair in pairs:
            disparity = score_kitti(pair, kitti_backend(config))
            kitti_cells.append(f"{disparity.epe_px:>7.2f}{100 * disparity.d1:>6.1f}{disparity.coverage:>7.3f}")
        print(
            f"{name:<36}| {metrics.coverage:>6.3f}{metrics.abs_rel:>8.4f}{metrics.a1:>7.3f}"
            f"{1000 * metrics.median_abs_error_m:>8.2f}{score.seconds:>7.2f}   | {' | '.join(kitti_cells)}"
        )
    injected_roll_table(sample, inputs, pairs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
