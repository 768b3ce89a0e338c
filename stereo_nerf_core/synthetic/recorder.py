"""Records a synthetic stereo endoscope clip as a real ROS 2 bag (mcap or sqlite3).

Per frame: both raw images with their camera_info, the left instrument mask, the left ground-truth
depth, the ground-truth pose and /tf; /tf_static (the rig extrinsics) once at the start. Log time
equals header stamp. Both images of a frame are exposed at the same instant; the right *stamp*
jitters by up to ``right_stamp_jitter_s`` around the left one, as with separately stamped drivers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from stereo_nerf_core.geometry.transforms import rotation_angle_deg
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES, BagWriter
from stereo_nerf_core.io.messages import (
    MessageClasses,
    array_to_image,
    matrix_to_pose_stamped,
    matrix_to_tf,
    view_to_camera_info,
)
from stereo_nerf_core.synthetic.config import SyntheticConfig
from stereo_nerf_core.synthetic.render import RenderedStereoFrame, StereoRenderer
from stereo_nerf_core.synthetic.trajectory import path_length_m
from stereo_nerf_core.synthetic.world import SyntheticWorld, build_world

TIMING_STREAM = 5
"""Random stream id of stamp jitter and drops: ``np.random.default_rng([seed, TIMING_STREAM, frame])``."""
DEPTH_QUANTUM_M = 2.0**-17
"""Ground-truth depth is rounded to multiples of this (7.6 um): exact in float32, compresses."""


@dataclass(frozen=True)
class FrameTiming:
    """Stamps of one frame and whether its left or right image is dropped."""

    index: int
    left_stamp_ns: int
    right_stamp_ns: int
    left_dropped: bool
    right_dropped: bool


@dataclass(frozen=True)
class RecordingSummary:
    """What :func:`record_synthetic_bag` wrote."""

    path: Path
    storage: str
    frames: int
    left_images: int
    right_images: int
    size_bytes: int
    duration_s: float
    fps: float
    width: int
    height: int
    baseline_m: float
    """Rig baseline (equals ``-P[0, 3] / P[0, 0]`` of the right camera_info)."""
    fx_rectified: float
    """Rectified focal length in pixels (``P[0, 0]``)."""
    tissue_depth_range_m: tuple[float, float]
    """Smallest and largest ground-truth depth on tissue (instrument excluded) over the clip."""
    instrument_depth_range_m: tuple[float, float] | None
    """Smallest and largest ground-truth depth on the instrument, None without one in view."""
    instrument_first_frame: int | None
    """First frame whose instrument mask is not empty."""
    camera_travel_m: float
    camera_rotation_deg: float
    render_seconds: float
    """Wall time of rendering and writing."""

    def describe(self) -> str:
        """A short human-readable report."""
        inst = "none" if self.instrument_first_frame is None else f"from frame {self.instrument_first_frame}"
        lo, hi = self.tissue_depth_range_m
        return (
            f"{self.path}: {self.frames} frames {self.width}x{self.height} at {self.fps:g} Hz "
            f"({self.left_images} left / {self.right_images} right images), {self.storage}, "
            f"{self.size_bytes / 1e6:.1f} MB in {self.render_seconds:.1f} s; tissue depth "
            f"{lo * 1e3:.1f}-{hi * 1e3:.1f} mm, instrument {inst}, baseline {self.baseline_m * 1e3:.2f} mm, "
            f"fx {self.fx_rectified:.1f} px, camera travel {self.camera_travel_m * 1e3:.1f} mm, "
            f"rotation {self.camera_rotation_deg:.1f} deg"
        )


def frame_schedule(config: SyntheticConfig) -> list[FrameTiming]:
    """Stamps and drops of every frame (deterministic from the seed; drop draws do not move jitter)."""
    schedule = []
    for index in range(config.frames):
        rng = np.random.default_rng([config.seed, TIMING_STREAM, index])
        jitter_s, drop_draw, side_draw = rng.uniform(-1.0, 1.0), rng.uniform(), rng.uniform()
        left_ns = config.start_time_ns + index * config.frame_period_ns
        right_ns = left_ns + round(jitter_s * config.right_stamp_jitter_s * 1e9)
        dropped = drop_draw < config.drop_rate
        left_dropped, right_dropped = dropped and side_draw < 0.5, dropped and side_draw >= 0.5
        schedule.append(FrameTiming(index, left_ns, right_ns, left_dropped, right_dropped))
    return schedule


def quantise_depth(depth: np.ndarray) -> np.ndarray:
    """Depth (H, W) float32 rounded to :data:`DEPTH_QUANTUM_M`; NaN stays NaN."""
    return (np.round(depth.astype(np.float64) / DEPTH_QUANTUM_M) * DEPTH_QUANTUM_M).astype(np.float32)


def _image(classes: MessageClasses, pixels: np.ndarray, encoding: str, stamp_ns: int, frame_id: str) -> Any:
    return array_to_image(classes, pixels, encoding=encoding, stamp_ns=stamp_ns, frame_id=frame_id)


def frame_messages(
    classes: MessageClasses, world: SyntheticWorld, frame: RenderedStereoFrame, timing: FrameTiming
) -> list[tuple[str, Any, int]]:
    """(topic, message, log time) of one frame in log-time order, drops applied.

    A dropped image takes its camera_info (and, on the left, the instrument mask) with it; ground
    truth (depth, pose, /tf) is always written at the left stamp.
    """
    calibration = world.rig.calibration
    left_ns, right_ns = timing.left_stamp_ns, timing.right_stamp_ns
    left_frame, right_frame = topics.LEFT_OPTICAL_FRAME, topics.RIGHT_OPTICAL_FRAME
    T = frame.T_world_left
    depth = quantise_depth(frame.left.depth)
    tf = matrix_to_tf(classes, T, stamp_ns=left_ns, parent=topics.WORLD_FRAME, child=left_frame)
    pose = matrix_to_pose_stamped(classes, T, stamp_ns=left_ns, frame_id=topics.WORLD_FRAME)
    ground_truth: list[tuple[str, Any, int]] = [
        (topics.TF, tf, left_ns),
        (topics.GROUND_TRUTH_POSE, pose, left_ns),
        (topics.GROUND_TRUTH_LEFT_DEPTH, _image(classes, depth, "32FC1", left_ns, left_frame), left_ns),
    ]
    left: list[tuple[str, Any, int]] = []
    if not timing.left_dropped:
        info = view_to_camera_info(classes, calibration.left, stamp_ns=left_ns, frame_id=left_frame)
        mask = np.where(frame.left.instrument_mask, 255, 0).astype(np.uint8)
        left = [
            (topics.LEFT_CAMERA_INFO, info, left_ns),
            (topics.LEFT_IMAGE, _image(classes, frame.left.image, "rgb8", left_ns, left_frame), left_ns),
            (topics.LEFT_INSTRUMENT_MASK, _image(classes, mask, "mono8", left_ns, left_frame), left_ns),
        ]
    right: list[tuple[str, Any, int]] = []
    if not timing.right_dropped:
        info = view_to_camera_info(classes, calibration.right, stamp_ns=right_ns, frame_id=right_frame)
        right = [
            (topics.RIGHT_CAMERA_INFO, info, right_ns),
            (topics.RIGHT_IMAGE, _image(classes, frame.right.image, "rgb8", right_ns, right_frame), right_ns),
        ]
    first, second = (right, ground_truth + left) if right_ns < left_ns else (ground_truth + left, right)
    return first + second


def record_synthetic_bag(path: Path | str, config: SyntheticConfig) -> RecordingSummary:
    """Render the clip of ``config`` and write it as a new rosbag2 folder at ``path``."""
    started = time.perf_counter()
    world = build_world(config)
    renderer = StereoRenderer(world)
    classes = ROSBAGS_CLASSES
    schedule = frame_schedule(config)
    counts = {"left": 0, "right": 0}
    tissue_range = [np.inf, -np.inf]
    instrument_range = [np.inf, -np.inf]
    first_instrument: int | None = None
    bag_path = Path(path)
    with BagWriter(bag_path, storage=config.storage, compression=config.compression) as writer:
        start_ns = min(schedule[0].left_stamp_ns, schedule[0].right_stamp_ns)
        tf_static = matrix_to_tf(
            classes,
            world.rig.T_left_right,
            stamp_ns=start_ns,
            parent=topics.LEFT_OPTICAL_FRAME,
            child=topics.RIGHT_OPTICAL_FRAME,
        )
        writer.write(topics.TF_STATIC, tf_static, start_ns, latched=True)
        for timing in tqdm(schedule, desc="rendering", unit="frame", disable=not config.progress):
            frame = renderer.render(timing.index)
            for topic, msg, log_ns in frame_messages(classes, world, frame, timing):
                writer.write(topic, msg, log_ns)
            counts["left"] += not timing.left_dropped
            counts["right"] += not timing.right_dropped
            mask = frame.left.instrument_mask
            tissue = frame.left.depth[~mask & np.isfinite(frame.left.depth)]
            if tissue.size:
                tissue_range = [
                    min(tissue_range[0], float(tissue.min())),
                    max(tissue_range[1], float(tissue.max())),
                ]
            if mask.any():
                first_instrument = timing.index if first_instrument is None else first_instrument
                on_tool = frame.left.depth[mask]
                instrument_range = [
                    min(instrument_range[0], float(on_tool.min())),
                    max(instrument_range[1], float(on_tool.max())),
                ]
    trajectory = world.trajectory
    return RecordingSummary(
        path=bag_path,
        storage=config.storage,
        frames=config.frames,
        left_images=counts["left"],
        right_images=counts["right"],
        size_bytes=sum(f.stat().st_size for f in bag_path.rglob("*") if f.is_file()),
        duration_s=(config.frames - 1) / config.fps,
        fps=config.fps,
        width=config.width,
        height=config.height,
        baseline_m=world.rig.calibration.baseline_m,
        fx_rectified=world.rig.calibration.fx,
        tissue_depth_range_m=(tissue_range[0], tissue_range[1]),
        instrument_depth_range_m=None
        if first_instrument is None
        else (instrument_range[0], instrument_range[1]),
        instrument_first_frame=first_instrument,
        camera_travel_m=path_length_m(trajectory),
        camera_rotation_deg=rotation_angle_deg(
            trajectory.pose(0.0)[:3, :3].T @ trajectory.pose(trajectory.duration_s)[:3, :3]
        ),
        render_seconds=time.perf_counter() - started,
    )
