"""The writer every importer shares: a :class:`Recording` becomes a ROS 2 bag with our topic names.

Frame ``i`` is stamped ``START_STAMP_NS + round(i * 1e9 / fps)`` (log time = header stamp), so
imports are deterministic. Per frame, in this order: /tf (``world`` -> left optical frame, when the
recording has a pose), left camera_info and rgb8 image, instrument mask (mono8, 255 = instrument),
depth prior and ground-truth depth (32FC1 metres, NaN = none), then the right camera_info, image and
mask. /tf_static (left -> right optical frame) is written once, latched, at the first stamp when the
recording has a right camera. The bag's ``metadata.yaml`` ``custom_data`` records where it came from
(:func:`base_custom_data`). A failed or interrupted import removes the bag it started; an existing
path is never overwritten.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from stereo_nerf_core.geometry.camera import RectifiedView, StereoCalibration
from stereo_nerf_core.geometry.transforms import invert_se3, make_se3
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES, BagWriter
from stereo_nerf_core.io.errors import BagError
from stereo_nerf_core.io.messages import array_to_image, matrix_to_tf, view_to_camera_info

START_STAMP_NS = 1_700_000_000_000_000_000
"""Stamp of every import's first frame: 1 700 000 000 s (2023-11-14 22:13:20 UTC), as the sample bag."""
DEFAULT_FPS = 10.0
CUSTOM_DATA_PREFIX = "stereo_nerf."

Storage = Literal["mcap", "sqlite3"]
Compression = Literal["none", "zstd"]


@dataclass(frozen=True)
class ImportOptions:
    """How a recording is written: frame rate of the stamps, storage plugin, compression, progress bar."""

    fps: float = DEFAULT_FPS
    storage: Storage = "mcap"
    compression: Compression = "none"
    progress: bool = True

    def __post_init__(self) -> None:
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise ImporterError(f"--fps must be a positive frame rate in Hz, got {self.fps}")
        if self.storage not in ("mcap", "sqlite3"):
            raise ImporterError(f"unknown bag storage {self.storage!r}: use 'mcap' or 'sqlite3'")
        if self.compression not in ("none", "zstd"):
            raise ImporterError(f"unknown bag compression {self.compression!r}: use 'none' or 'zstd'")

    def stamp_ns(self, index: int) -> int:
        """Header stamp (and log time) of frame ``index``."""
        return START_STAMP_NS + round(index * 1e9 / self.fps)


@dataclass(frozen=True)
class ImportedFrame:
    """One frame's content, on the left (and right) raw image grids."""

    left: NDArray[np.uint8]
    """(H, W, 3) RGB."""
    right: NDArray[np.uint8] | None = None
    left_mask: NDArray[np.bool_] | None = None
    """(H, W) True on instruments."""
    right_mask: NDArray[np.bool_] | None = None
    ground_truth_depth: NDArray[np.float32] | None = None
    """(H, W) Z in metres on the left raw grid, NaN where none (evaluation only)."""
    depth_prior: NDArray[np.float32] | None = None
    """(H, W) Z in metres on the left grid from another method (a stereo prior), NaN where none."""
    T_world_left: NDArray[np.float64] | None = None
    """(4, 4) pose of the left optical frame in ``world`` (published on /tf, not as ground truth)."""
    left_view: RectifiedView | None = None
    """Camera of this image when it differs per frame (multi-view sets); else the recording's."""


@dataclass(frozen=True)
class Recording:
    """A dataset read by an importer: its images (loaded one frame at a time) and cameras."""

    format: str
    source: Path
    left_images: tuple[Path, ...]
    """Left image file of each frame, in bag order (COLMAP poses are matched on these names)."""
    load: Callable[[int], ImportedFrame]
    left_view: RectifiedView | None = None
    right_view: RectifiedView | None = None
    T_left_right: NDArray[np.float64] | None = None
    """Pose of the right raw optical frame in the left one (/tf_static), for stereo recordings."""
    pose_source: str | None = None
    """What the /tf poses are (None: the recording has none)."""
    custom_data: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    frame_rate_hz: float | None = None
    """The source's own frame rate (a video's); the stamps use it unless ``--fps`` is given."""

    @property
    def frame_names(self) -> list[str]:
        """File name of each frame's left image."""
        return [path.name for path in self.left_images]


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`write_recording` wrote."""

    path: Path
    format: str
    storage: str
    frames: int
    topics: dict[str, int]
    """Topic -> number of messages."""
    width: int
    height: int
    fps: float
    pose_source: str | None
    size_bytes: int
    seconds: float

    def one_line(self) -> str:
        """The closing line printed on the terminal."""
        right = self.topics.get(topics.RIGHT_IMAGE, 0)
        parts = [f"{self.topics.get(topics.LEFT_IMAGE, 0)} left" + (f" / {right} right" if right else "") + " images"]
        for topic, label in (
            (topics.LEFT_INSTRUMENT_MASK, "masks"),
            (topics.LEFT_DEPTH_PRIOR, "depth priors"),
            (topics.GROUND_TRUTH_LEFT_DEPTH, "ground-truth depths"),
            (topics.TF, "poses"),
        ):
            if self.topics.get(topic):
                parts.append(f"{self.topics[topic]} {label}")
        poses = f", poses: {self.pose_source}" if self.pose_source else ""
        return (
            f"import {self.format} done: {self.frames} frames {self.width}x{self.height} at {self.fps:g} Hz "
            f"({', '.join(parts)}){poses} -> {self.path} ({self.storage}, {self.size_bytes / 1e6:.1f} MB) "
            f"in {self.seconds:.1f} s"
        )


def rig_transform(calibration: StereoCalibration) -> NDArray[np.float64]:
    """``T_left_right`` of a calibrated pair, from its camera_info R and P alone.

    The rectified frames differ by the baseline along x: ``x_right = R_r^T (R_l x_left - (B, 0, 0))``.
    """
    R_left, R_right = calibration.left.R, calibration.right.R
    T_right_left = make_se3(R_right.T @ R_left, -R_right.T @ np.array([calibration.baseline_m, 0.0, 0.0]))
    return invert_se3(T_right_left)


def base_custom_data(recording: Recording, options: ImportOptions) -> dict[str, str]:
    """``metadata.yaml`` custom_data of every import: format, source, stamps of the frames, pose source."""
    stamps = {name: options.stamp_ns(index) for index, name in enumerate(recording.frame_names)}
    data = {
        "importer": recording.format,
        "source": str(recording.source.resolve()),
        "fps": f"{options.fps:g}",
        "start_stamp_ns": str(START_STAMP_NS),
        "frames": json.dumps(stamps),
        "pose_source": recording.pose_source or "none",
    }
    if recording.notes:
        data["notes"] = json.dumps(list(recording.notes))
    return {CUSTOM_DATA_PREFIX + key: value for key, value in data.items()}


def frame_messages(recording: Recording, frame: ImportedFrame, stamp_ns: int) -> list[tuple[str, Any]]:
    """(topic, message) of one frame, all at ``stamp_ns``, in the order they are written."""
    classes = ROSBAGS_CLASSES
    left_frame, right_frame = topics.LEFT_OPTICAL_FRAME, topics.RIGHT_OPTICAL_FRAME
    left_view = frame.left_view or recording.left_view
    if left_view is None:
        raise ImporterError(f"{recording.source}: no left camera model for frame at {stamp_ns}")

    def image(pixels: NDArray[Any], encoding: str, frame_id: str) -> Any:
        return array_to_image(classes, pixels, encoding=encoding, stamp_ns=stamp_ns, frame_id=frame_id)

    def mask(values: NDArray[np.bool_], frame_id: str) -> Any:
        return image(np.where(values, 255, 0).astype(np.uint8), "mono8", frame_id)

    def depth(values: NDArray[np.float32]) -> Any:
        finite = np.where(np.isfinite(values) & (values > 0), values, np.nan)
        return image(finite.astype(np.float32), "32FC1", left_frame)

    messages: list[tuple[str, Any]] = []
    if frame.T_world_left is not None:
        tf = matrix_to_tf(classes, frame.T_world_left, stamp_ns=stamp_ns, parent=topics.WORLD_FRAME, child=left_frame)
        messages.append((topics.TF, tf))
    messages.append(
        (topics.LEFT_CAMERA_INFO, view_to_camera_info(classes, left_view, stamp_ns=stamp_ns, frame_id=left_frame))
    )
    messages.append((topics.LEFT_IMAGE, image(frame.left, "rgb8", left_frame)))
    if frame.left_mask is not None:
        messages.append((topics.LEFT_INSTRUMENT_MASK, mask(frame.left_mask, left_frame)))
    if frame.depth_prior is not None:
        messages.append((topics.LEFT_DEPTH_PRIOR, depth(frame.depth_prior)))
    if frame.ground_truth_depth is not None:
        messages.append((topics.GROUND_TRUTH_LEFT_DEPTH, depth(frame.ground_truth_depth)))
    if frame.right is not None:
        if recording.right_view is None:
            raise ImporterError(f"{recording.source}: a right image but no right camera model")
        info = view_to_camera_info(classes, recording.right_view, stamp_ns=stamp_ns, frame_id=right_frame)
        messages += [(topics.RIGHT_CAMERA_INFO, info), (topics.RIGHT_IMAGE, image(frame.right, "rgb8", right_frame))]
        if frame.right_mask is not None:
            messages.append((topics.RIGHT_INSTRUMENT_MASK, mask(frame.right_mask, right_frame)))
    return messages


def write_recording(recording: Recording, out_bag: Path | str, options: ImportOptions) -> ImportSummary:
    """Write ``recording`` as a new rosbag2 folder at ``out_bag``; never overwrites."""
    path = Path(out_bag)
    if path.exists() or path.is_symlink():
        raise ImporterError(f"{path} exists already; bags are never overwritten")
    if not recording.left_images:
        raise ImporterError(f"{recording.source}: no frames to import")
    started = time.perf_counter()
    counts: Counter[str] = Counter()
    size = (0, 0)
    custom_data = {**base_custom_data(recording, options), **recording.custom_data}
    try:
        bag = BagWriter(path, storage=options.storage, compression=options.compression, custom_data=custom_data)
    except BagError as error:
        raise ImporterError(f"{path}: {error}") from error
    created = False
    try:
        with bag as writer:
            created = True  # only a folder this import made is ever removed
            if recording.T_left_right is not None:
                first = options.stamp_ns(0)
                tf_static = matrix_to_tf(
                    ROSBAGS_CLASSES,
                    recording.T_left_right,
                    stamp_ns=first,
                    parent=topics.LEFT_OPTICAL_FRAME,
                    child=topics.RIGHT_OPTICAL_FRAME,
                )
                writer.write(topics.TF_STATIC, tf_static, first, latched=True)
                counts[topics.TF_STATIC] += 1
            indices = range(len(recording.left_images))
            for index in tqdm(indices, desc=f"import {recording.format}", unit="frame", disable=not options.progress):
                frame = recording.load(index)
                size = (frame.left.shape[1], frame.left.shape[0])
                stamp = options.stamp_ns(index)
                for topic, msg in frame_messages(recording, frame, stamp):
                    writer.write(topic, msg, stamp)
                    counts[topic] += 1
    except BaseException:
        if created:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return ImportSummary(
        path=path,
        format=recording.format,
        storage=options.storage,
        frames=len(recording.left_images),
        topics=dict(counts),
        width=size[0],
        height=size[1],
        fps=options.fps,
        pose_source=recording.pose_source,
        size_bytes=sum(f.stat().st_size for f in path.rglob("*") if f.is_file()),
        seconds=time.perf_counter() - started,
    )
