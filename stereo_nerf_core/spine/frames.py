"""Turns a bag's message stream into synchronised stereo frames with their side data.

Images are paired with :class:`ApproximateTimeSync`; each camera uses its latest camera_info;
instrument masks, a provided depth prior, ground-truth depth and poses are attached by stamp. A monocular
(left-only) recording gives one frame per left image, without a right one (:func:`is_monocular`).
The robot's pose comes from the tf tree (/tf and /tf_static, the chain from ``tracking.world_frame`` to the
camera interpolated at the stamp, as the live tracker looks it up:
:class:`~stereo_nerf_core.spine.robot_poses.RobotPoses`). A pair is released once the stream has moved
``settle_s`` (at least ``tracking.tf_timeout_s``, the live tracker's wait) past its stamp: side data may be
logged just after the images.
Unusable messages are counted and described, never fatal: a running replay keeps going.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import SyncConfig, TrackingConfig
from stereo_nerf_core.frontend.sync import ApproximateTimeSync, Side
from stereo_nerf_core.geometry.camera import RectifiedView
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import BagMessage, bag_topics, read_messages
from stereo_nerf_core.io.errors import BagError, MessageError
from stereo_nerf_core.io.messages import (
    camera_info_to_view,
    check_image_size,
    image_to_array,
    image_to_rgb,
    pose_to_matrix,
    stamp_ns,
)
from stereo_nerf_core.spine.robot_poses import RobotPoses

FRAME_TOPICS = (
    topics.LEFT_IMAGE,
    topics.RIGHT_IMAGE,
    topics.LEFT_CAMERA_INFO,
    topics.RIGHT_CAMERA_INFO,
    topics.LEFT_INSTRUMENT_MASK,
    topics.LEFT_DEPTH_PRIOR,
    topics.GROUND_TRUTH_LEFT_DEPTH,
    topics.GROUND_TRUTH_POSE,
    topics.TF,
    topics.TF_STATIC,
)
"""Every topic :class:`FrameAssembler` reads (a bag may lack all but the images and camera_infos)."""
STAMP_TOLERANCE_NS = 1_000_000
"""Side data (mask, depth, pose) is matched to a left image within 1 ms."""


@dataclass(frozen=True)
class CameraImage:
    """A raw image with the camera model in force when it was taken."""

    stamp_ns: int
    rgb: NDArray[np.uint8]
    view: RectifiedView


@dataclass(frozen=True)
class StereoFrame:
    """One synchronised pair and whatever side data the bag had for it."""

    index: int
    stamp_ns: int
    left: CameraImage
    right: CameraImage | None
    """None in a monocular (left-only) recording."""
    instrument_mask: NDArray[np.bool_] | None
    """(H, W) on the left raw grid, True on instruments."""
    depth_prior: NDArray[np.float32] | None
    """(H, W) metres on the left raw grid (Z of the raw frame), NaN where none: a prior the bag carries
    (/stereo/left/depth_prior, e.g. imported with a monocular recording)."""
    ground_truth_depth: NDArray[np.float32] | None
    """(H, W) metres on the left raw grid (Z of the raw frame), NaN where none."""
    T_world_left: NDArray[np.float64] | None
    """(4, 4) pose of the left raw optical frame from the tf tree (a robot's kinematics, for example)."""
    T_world_left_truth: NDArray[np.float64] | None
    """(4, 4) ground-truth pose of the left raw optical frame (/ground_truth/pose; evaluation only)."""

    def stereo(self) -> tuple[CameraImage, CameraImage]:
        """(left, right); :class:`BagError` for a frame of a monocular recording, which has no right image."""
        if self.right is None:
            raise BagError(
                f"frame {self.index} @ {self.stamp_ns} has no {topics.RIGHT_IMAGE} (a monocular recording): "
                "this needs a stereo bag"
            )
        return self.left, self.right


@dataclass
class StreamReport:
    """What the assembler skipped, with reasons."""

    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def skip(self, reason: str, detail: str) -> None:
        """Count one skipped message and keep the first few descriptions."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.problems) < 20:
            self.problems.append(detail)


class _Stamped:
    """Side data by stamp, looked up with a tolerance and pruned as the stream advances."""

    def __init__(self) -> None:
        self.items: dict[int, Any] = {}

    def add(self, stamp: int, item: Any) -> None:
        self.items[stamp] = item

    def find(self, stamp: int) -> Any:
        if stamp in self.items:
            return self.items[stamp]
        near = [s for s in self.items if abs(s - stamp) <= STAMP_TOLERANCE_NS]
        return self.items[min(near, key=lambda s: abs(s - stamp))] if near else None

    def prune(self, before: int) -> None:
        for stamp in [s for s in self.items if s < before]:
            del self.items[stamp]


class FrameAssembler:
    """Consumes bag messages in log order and yields :class:`StereoFrame` objects."""

    def __init__(
        self,
        sync: SyncConfig,
        *,
        tracking: TrackingConfig | None = None,
        settle_s: float = 0.1,
        monocular: bool = False,
    ) -> None:
        self.sync: ApproximateTimeSync[CameraImage] = ApproximateTimeSync(sync)
        self.monocular = monocular
        """Left images alone make frames (right images are ignored)."""
        tracking = tracking or TrackingConfig()
        self.settle_ns = int(max(settle_s, tracking.tf_timeout_s) * 1e9)
        self.views: dict[str, RectifiedView] = {}
        self.masks, self.priors, self.depths, self.truth_poses = _Stamped(), _Stamped(), _Stamped(), _Stamped()
        self.robot = RobotPoses(tracking)
        self.left_frame_id = topics.LEFT_OPTICAL_FRAME
        self.pending: deque[tuple[int, CameraImage, CameraImage | None]] = deque()
        """(stamp, left, right) of the frames waiting for their side data."""
        self.report = StreamReport()
        self.frames = 0

    def frames_from(self, messages: Iterable[BagMessage]) -> Iterator[StereoFrame]:
        """All frames of a message stream; the stream's own errors propagate after earlier frames."""
        for message in messages:
            self.accept(message)
            yield from self.release(message.log_time_ns)
        self.sync.flush()
        yield from self.release(None)

    def frames_from_bag(self, bag: Path | str, *, max_frames: int | None = None) -> Iterator[StereoFrame]:
        """The first ``max_frames`` frames (all when None) of a bag, from the topics it has of
        :data:`FRAME_TOPICS`; a message that cannot be read raises BagError after the frames before it."""
        frames = self.frames_from(read_messages(bag, FRAME_TOPICS))
        return frames if max_frames is None else itertools.takewhile(lambda frame: frame.index < max_frames, frames)

    def accept(self, message: BagMessage) -> None:
        """Take one message; conversion problems are counted in :attr:`report`."""
        try:
            self._accept(message)
        except MessageError as error:
            self.report.skip(f"bad message on {message.topic}", f"{message.topic} @ {message.log_time_ns}: {error}")

    def release(self, now_ns: int | None) -> Iterator[StereoFrame]:
        """Pairs whose side data has had time to arrive (all of them when ``now_ns`` is None)."""
        while self.pending and (now_ns is None or now_ns - self.pending[0][0] >= self.settle_ns):
            stamp, left, right = self.pending.popleft()
            frame = StereoFrame(
                index=self.frames,
                stamp_ns=stamp,
                left=left,
                right=right,
                instrument_mask=self.masks.find(stamp),
                depth_prior=self.priors.find(stamp),
                ground_truth_depth=self.depths.find(stamp),
                T_world_left=self.robot.pose(stamp, self.robot.camera_frame(self.left_frame_id)),
                T_world_left_truth=self.truth_poses.find(stamp),
            )
            self.frames += 1
            for store in (self.masks, self.priors, self.depths, self.truth_poses):
                store.prune(stamp - STAMP_TOLERANCE_NS)
            yield frame

    def _accept(self, message: BagMessage) -> None:
        topic, msg = message.topic, message.msg
        if topic in (topics.LEFT_CAMERA_INFO, topics.RIGHT_CAMERA_INFO):
            self.views[topic] = camera_info_to_view(msg, topic=topic)
        elif topic in (topics.LEFT_IMAGE, topics.RIGHT_IMAGE):
            self._accept_image(topic, msg)
        elif topic == topics.LEFT_INSTRUMENT_MASK:
            self.masks.add(stamp_ns(msg.header), _image(msg, topic) > 0)
        elif topic in (topics.GROUND_TRUTH_LEFT_DEPTH, topics.LEFT_DEPTH_PRIOR):
            depth = _image(msg, topic).astype(np.float32)
            if str(msg.encoding) == "16UC1":
                depth = np.where(depth > 0, depth / 1000.0, np.nan).astype(np.float32)
            store = self.depths if topic == topics.GROUND_TRUTH_LEFT_DEPTH else self.priors
            store.add(stamp_ns(msg.header), np.where(depth > 0, depth, np.nan).astype(np.float32))
        elif topic == topics.GROUND_TRUTH_POSE:
            if msg.header.frame_id == topics.WORLD_FRAME:
                self.truth_poses.add(stamp_ns(msg.header), pose_to_matrix(msg.pose))
        elif topic in (topics.TF, topics.TF_STATIC):
            self.robot.accept_tf(msg, static=topic == topics.TF_STATIC)

    def _accept_image(self, topic: str, msg: Any) -> None:
        if self.monocular and topic != topics.LEFT_IMAGE:
            return
        info_topic = topics.LEFT_CAMERA_INFO if topic == topics.LEFT_IMAGE else topics.RIGHT_CAMERA_INFO
        stamp = stamp_ns(msg.header)
        if topic == topics.LEFT_IMAGE:
            self.left_frame_id = str(msg.header.frame_id) or topics.LEFT_OPTICAL_FRAME
        view = self.views.get(info_topic)
        if view is None:
            self.report.skip(f"no camera_info yet on {info_topic}", f"{topic} @ {stamp}: no {info_topic} received yet")
            return
        rgb = image_to_rgb_named(msg, topic)
        check_image_size(rgb, view.camera.size, topic, info_topic)
        if self.monocular:
            self.pending.append((stamp, CameraImage(stamp, rgb, view), None))
            return
        side: Side = "left" if topic == topics.LEFT_IMAGE else "right"
        pair = self.sync.push(side, stamp, CameraImage(stamp, rgb, view))
        if pair is not None:
            self.pending.append((pair.stamp_ns, pair.left, pair.right))


def is_monocular(bag: Path | str) -> bool:
    """Whether ``bag`` is a monocular recording: left images and no right ones."""
    counts = {topic: item.count for topic, item in bag_topics(Path(bag)).items()}
    return counts.get(topics.LEFT_IMAGE, 0) > 0 and counts.get(topics.RIGHT_IMAGE, 0) == 0


def image_to_rgb_named(msg: Any, topic: str) -> NDArray[np.uint8]:
    """:func:`image_to_rgb` with the topic named in its errors."""
    try:
        return image_to_rgb(msg)
    except MessageError as error:
        raise MessageError(f"{topic}: {error}") from error


def _image(msg: Any, topic: str) -> NDArray[Any]:
    try:
        return image_to_array(msg)
    except MessageError as error:
        raise MessageError(f"{topic}: {error}") from error
