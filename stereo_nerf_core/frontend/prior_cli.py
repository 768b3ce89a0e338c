"""The ``depth-prior`` subcommand: the dense depth prior of one rectified stereo pair from image files.

``stereo-nerf depth-prior LEFT RIGHT --fx FX --baseline-m B --out DIR`` writes into DIR:

- ``disparity.npy``: float32 (H, W) left-reference disparity in pixels, 0 where there is none;
- ``depth.npy``: float32 (H, W) depth in metres along the optical axis, 0 where there is none;
- ``confidence.npy``: float32 (H, W) combined confidence in [0, 1] (backend, texture, masks), 0 where
  the pixel is rejected; ``confidence.png``: the same as an 8-bit image (255 = 1);
- ``rejected.npy``: uint8 (H, W) reason bits of rejected pixels (0: kept): 1 no match, 2 out of range,
  4 specular, 8 instrument, 16 background, 32 low confidence, 64 multi-view.

Hook it into a CLI with ``add_depth_prior_parser(subparsers)``; the handler returns the exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig, load_config
from stereo_nerf_core.frontend.errors import FrontendError

BACKENDS = ("sgbm", "seeded", "torchscript")
"""Values of ``--backend``."""

_EPILOG = """outputs in --out:
  disparity.npy   float32 (H, W) disparity in pixels (left reference), 0 where none
  depth.npy       float32 (H, W) depth in metres, 0 where none
  confidence.npy  float32 (H, W) combined confidence in [0, 1], 0 where rejected
  confidence.png  8-bit preview of confidence.npy (255 = 1)
  rejected.npy    uint8 (H, W) reason bits, 0 = kept: 1 no match, 2 out of range, 4 specular,
                  8 instrument, 16 background, 32 low confidence, 64 multi-view

The pair must already be rectified (rows aligned); a pair whose sparse matches are offset vertically by
more than depth_prior.max_vertical_offset_px is refused. Other parameters come from --config's
depth_prior group, or the built-in defaults. Errors print one line and exit with status 2."""


def add_depth_prior_parser(subparsers: argparse._SubParsersAction) -> None:
    """``depth-prior LEFT RIGHT --fx FX --baseline-m B [options] --out DIR``."""
    parser = subparsers.add_parser(
        "depth-prior",
        help="dense depth prior (disparity, depth, confidence) of one rectified stereo pair",
        description="Compute the dense depth prior of one rectified stereo pair and write it as .npy files.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("left", type=Path, metavar="LEFT", help="rectified left image file (PNG, JPEG, ...)")
    parser.add_argument("right", type=Path, metavar="RIGHT", help="rectified right image file, same size")
    parser.add_argument("--fx", type=float, required=True, metavar="PX", help="rectified focal length in pixels (> 0)")
    parser.add_argument("--baseline-m", type=float, required=True, metavar="M", help="stereo baseline in metres (> 0)")
    parser.add_argument(
        "--cx-offset",
        type=float,
        default=0.0,
        metavar="PX",
        help="cx_left - cx_right of the rectified pair in pixels (default 0)",
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, default=None, help="prior backend (default: --config's, else sgbm)"
    )
    parser.add_argument(
        "--model", type=Path, default=None, metavar="PATH", help="TorchScript file of --backend torchscript"
    )
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default=None, help="torch device of --backend torchscript"
    )
    parser.add_argument(
        "--min-depth-m",
        type=float,
        default=None,
        metavar="M",
        help=f"nearest depth in metres (default {DepthPriorConfig.min_depth_m})",
    )
    parser.add_argument(
        "--max-depth-m",
        type=float,
        default=None,
        metavar="M",
        help=f"farthest depth in metres (default {DepthPriorConfig.max_depth_m})",
    )
    parser.add_argument("--no-fill", action="store_true", help="leave pixels without a match empty (raw prior)")
    parser.add_argument(
        "--config", type=Path, default=None, metavar="YAML", help="pipeline YAML whose depth_prior group is used"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created)")
    parser.set_defaults(handler=run_depth_prior)


def read_image(path: Path, name: str) -> NDArray[np.uint8]:
    """An image file as RGB uint8 (H, W, 3); a missing or unreadable file is a :class:`FrontendError`."""
    if not path.is_file():
        raise FrontendError(f"{name} image {path}: no such file")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FrontendError(f"{name} image {path}: not an image file OpenCV can read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def prior_config(args: argparse.Namespace) -> DepthPriorConfig:
    """The ``depth_prior`` parameters: --config's group (or the defaults) with the command-line overrides."""
    base = load_config(args.config).depth_prior if args.config is not None else DepthPriorConfig()
    return dataclasses.replace(
        base,
        backend=base.backend if args.backend is None else args.backend,
        model_path=base.model_path if args.model is None else str(args.model),
        device=base.device if args.device is None else args.device,
        min_depth_m=base.min_depth_m if args.min_depth_m is None else float(args.min_depth_m),
        max_depth_m=base.max_depth_m if args.max_depth_m is None else float(args.max_depth_m),
        fill_holes=base.fill_holes and not args.no_fill,
    )


def run_depth_prior(args: argparse.Namespace) -> int:
    """Compute and write the prior (see the module docstring); returns 0."""
    from stereo_nerf_core.frontend.confidence import assess_prior
    from stereo_nerf_core.frontend.depth_prior import make_prior_backend
    from stereo_nerf_core.geometry.camera import StereoCalibration

    for flag, value in (("--fx", args.fx), ("--baseline-m", args.baseline_m)):
        if not (math.isfinite(value) and value > 0):
            raise FrontendError(f"{flag} must be a positive number, got {value}")
    if not math.isfinite(args.cx_offset):
        raise FrontendError(f"--cx-offset must be finite, got {args.cx_offset}")
    config = prior_config(args)
    left, right = read_image(args.left, "left"), read_image(args.right, "right")
    if left.shape != right.shape:
        raise FrontendError(
            f"left image {args.left} is {left.shape[1]}x{left.shape[0]} but right image {args.right} is "
            f"{right.shape[1]}x{right.shape[0]}"
        )
    height, width = left.shape[:2]
    calibration = StereoCalibration.rectified(
        width, height, fx=args.fx, baseline_m=args.baseline_m, cx_offset=args.cx_offset
    )
    backend = make_prior_backend(config)
    start = time.perf_counter()
    prior = backend.estimate(left, right, calibration)
    seconds = time.perf_counter() - start
    assessment = assess_prior(prior, left, min_depth_m=config.min_depth_m, max_depth_m=config.max_depth_m)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "disparity.npy", prior.disparity.astype(np.float32))
    np.save(out / "depth.npy", prior.depth.astype(np.float32))
    np.save(out / "confidence.npy", assessment.confidence.astype(np.float32))
    np.save(out / "rejected.npy", assessment.reasons.astype(np.uint8))
    preview = np.rint(255.0 * np.clip(assessment.confidence, 0.0, 1.0)).astype(np.uint8)
    if not cv2.imwrite(str(out / "confidence.png"), preview):
        raise FrontendError(f"could not write {out / 'confidence.png'}")
    valid = prior.valid
    filled = 0.0 if prior.filled is None else float(prior.filled.mean())
    median = float(np.median(prior.depth[valid])) if valid.any() else float("nan")
    print(
        f"depth-prior: {config.backend} on {width}x{height} in {seconds:.2f} s: depth on {100 * valid.mean():.0f}% "
        f"of pixels ({100 * filled:.0f}% filled), {100 * assessment.valid.mean():.0f}% kept, median depth "
        f"{median:.4f} m -> {out}"
    )
    return 0
