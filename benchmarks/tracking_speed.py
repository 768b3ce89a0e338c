"""Time per frame and frames per second of stereo visual odometry tracking (features + PnP) at 640x512.

Usage: python benchmarks/tracking_speed.py [--bag BAG] [--frames N] [--repeats R] [--trackers klt,sift]

Without ``--bag`` a 640x512 synthetic clip (``preset("sample", width=640, height=512, frames=N)``,
~30 s to render on 2 cores) is recorded into a temporary folder. The depth priors (SGBM) and the
rectification are computed first and not timed: they are the depth stage's outputs, which tracking
consumes. Timed is ``StereoOdometry.track`` per frame: feature tracking to the keyframe, PnP RANSAC +
refinement, the keyframe decision (sharpness) and, on keyframes, detecting the new keyframe's features.
The ATE (rigid alignment) against the clip's ground truth is printed as a sanity check.

Wall-clock time depends on what else runs on the machine; the "CPU ms" column is the process's CPU
time per frame (all threads), which other processes do not inflate: on an idle machine the wall
time per frame is at most that, so ``1000 / CPU ms`` is a lower bound of the idle frame rate.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from stereo_nerf_core.config import DepthPriorConfig, OdometryConfig, SyncConfig
from stereo_nerf_core.eval.trajectory import absolute_trajectory_error
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.odometry import StereoOdometry
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import read_messages
from stereo_nerf_core.spine.frames import FrameAssembler
from stereo_nerf_core.spine.stages import StereoDepthStage
from stereo_nerf_core.synthetic import preset, record_synthetic_bag


@dataclass
class Frame:
    left: np.ndarray
    prior: DepthPrior
    instrument: np.ndarray | None
    T_world_camera: np.ndarray | None


def load(bag: Path) -> tuple[StereoCalibration, list[Frame]]:
    """Rectified left images, SGBM priors, rectified instrument masks and ground-truth poses of a bag."""
    stage = StereoDepthStage(DepthPriorConfig())
    names = [
        topics.LEFT_IMAGE,
        topics.RIGHT_IMAGE,
        topics.LEFT_CAMERA_INFO,
        topics.RIGHT_CAMERA_INFO,
        topics.LEFT_INSTRUMENT_MASK,
        topics.GROUND_TRUTH_POSE,
    ]
    frames: list[Frame] = []
    calibration: StereoCalibration | None = None
    for frame in FrameAssembler(SyncConfig()).frames_from(read_messages(bag, names)):
        left, right = frame.stereo()
        rectified = stage.process(frame.stamp_ns, left.rgb, right.rgb, left.view, right.view)
        calibration = rectified.calibration
        mask = None
        if frame.instrument_mask is not None:
            mask = calibration.rectify_left_nearest(frame.instrument_mask.astype(np.uint8)) > 0
        pose = None if frame.T_world_left is None else frame.T_world_left @ calibration.T_raw_rect
        frames.append(Frame(rectified.left, rectified.prior, mask, pose))
    if calibration is None:
        raise SystemExit(f"{bag}: no stereo frames")
    return calibration, frames


def benchmark(calibration: StereoCalibration, frames: list[Frame], tracker: str, repeats: int) -> None:
    """Print one row: ms per frame and frames/s (mean of the passes, and best of them per frame, which
    discounts other processes on a shared machine), median and 95th percentile, keyframe cost and ATE."""
    config = OdometryConfig(tracker=tracker)
    times = np.zeros((repeats, len(frames)))
    cpu = np.zeros((repeats, len(frames)))
    keyframe = np.zeros(len(frames), bool)
    estimated: list[np.ndarray] = []
    for repeat in range(repeats):
        odometry = StereoOdometry(calibration, config=config)
        estimated = []
        for i, frame in enumerate(frames):
            start, start_cpu = time.perf_counter(), time.process_time()
            result = odometry.track(frame.left, frame.prior, exclude=frame.instrument)
            times[repeat, i] = time.perf_counter() - start
            cpu[repeat, i] = time.process_time() - start_cpu
            keyframe[i] = result.is_keyframe
            estimated.append(result.T_world_camera)
    per_frame = times[:, 1:].mean(axis=0) * 1e3  # frame 0 only makes the first keyframe
    best = times[:, 1:].min(axis=0) * 1e3
    cpu_ms = float(cpu[:, 1:].mean()) * 1e3
    tracked_only = per_frame[~keyframe[1:]]
    with_keyframe = per_frame[keyframe[1:]]
    truth = [f.T_world_camera for f in frames]
    ate = "n/a"
    if all(T is not None for T in truth):
        ate = f"{absolute_trajectory_error(np.stack(estimated), np.stack(truth)).rmse_m * 1e3:.3f}"  # type: ignore[arg-type]
    mean, best_mean = float(per_frame.mean()), float(best.mean())
    print(
        f"{tracker:<6}{mean:>9.2f}{1000.0 / mean:>9.1f}{best_mean:>9.2f}{1000.0 / best_mean:>9.1f}"
        f"{np.median(per_frame):>9.2f}{np.percentile(per_frame, 95):>9.2f}"
        f"{(tracked_only.mean() if tracked_only.size else float('nan')):>12.2f}"
        f"{(with_keyframe.mean() if with_keyframe.size else float('nan')):>12.2f}{cpu_ms:>9.2f}{1000.0 / cpu_ms:>9.1f}"
        f"{int(keyframe.sum()):>5}{ate:>10}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bag", type=Path, default=None, help="use this bag instead of rendering a 640x512 clip")
    parser.add_argument("--frames", type=int, default=20, help="frames of the rendered clip")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the clip (timings are averaged)")
    parser.add_argument("--trackers", default="klt,sift", help="comma-separated odometry.tracker values")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        bag = args.bag
        if bag is None:
            bag = Path(folder) / "clip_640x512"
            start = time.perf_counter()
            record_synthetic_bag(bag, preset("sample", width=640, height=512, frames=args.frames, progress=False))
            print(f"rendered {args.frames} frames at 640x512 in {time.perf_counter() - start:.1f} s")
        calibration, frames = load(bag)
    width, height = calibration.size
    print(
        f"tracking benchmark: {len(frames)} frames at {width}x{height}, {args.repeats} passes, "
        f"OpenCV threads {cv2.getNumThreads()} of {os.cpu_count()} CPUs"
    )
    print(
        f"{'':<6}{'ms/frame':>9}{'frames/s':>9}{'best ms':>9}{'best f/s':>9}{'median':>9}{'p95':>9}"
        f"{'ms tracked':>12}{'ms keyframe':>12}{'CPU ms':>9}{'CPU f/s':>9}{'kf':>5}{'ATE mm':>10}"
    )
    for tracker in args.trackers.split(","):
        benchmark(calibration, frames, tracker.strip(), args.repeats)


if __name__ == "__main__":
    main()
