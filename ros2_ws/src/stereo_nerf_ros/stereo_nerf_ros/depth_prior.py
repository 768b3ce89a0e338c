"""What the depth_prior node does, without rclpy: conversion, processing, output messages, frame buffer.

Outputs (relative to the node, so ``/depth_prior/...`` by default), all stamped with the left image's
stamp and in the rectified left optical frame :data:`LEFT_RECT_OPTICAL_FRAME`:

* ``~/depth`` (sensor_msgs/Image, 32FC1): depth in metres along the rectified optical axis; pixels
  without a depth are NaN (REP 118), not 0 as in the core's :class:`DepthPrior`.
* ``~/confidence`` (32FC1): confidence in [0, 1], 0 where there is no depth.
* ``~/left/image_rect`` (rgb8): the rectified left image the depth is registered to.
* ``~/left/camera_info``: the rectified camera: K = P[:3, :3], D = 0, R = I, P unchanged.

The rectified frame differs from the raw left optical frame (the input images' frame) by the
rectification rotation R of the left camera_info; :func:`rectification_transform` gives the static
transform raw <- rectified that the node publishes on ``/tf_static``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, StereoCalibration
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.errors import MessageError
from stereo_nerf_core.io.messages import (
    MessageClasses,
    array_to_image,
    camera_info_to_view,
    image_to_rgb,
    matrix_to_tf,
    stamp_ns,
    view_to_camera_info,
)
from stereo_nerf_core.pipeline.stages import RectifiedDepth, StereoDepthStage

NODE_NAME = "depth_prior"
PARAMETER_GROUPS = ("sync", "depth_prior")
"""Parameter groups of pipeline.yaml the node declares and reads."""

INPUT_TOPICS = (topics.LEFT_IMAGE, topics.RIGHT_IMAGE, topics.LEFT_CAMERA_INFO, topics.RIGHT_CAMERA_INFO)
"""Subscribed topics, in the order of :class:`StereoMessages` (remap them in the launch file)."""

DEPTH_TOPIC = "~/depth"
CONFIDENCE_TOPIC = "~/confidence"
LEFT_RECT_IMAGE_TOPIC = "~/left/image_rect"
LEFT_RECT_CAMERA_INFO_TOPIC = "~/left/camera_info"
OUTPUT_TOPICS = (DEPTH_TOPIC, CONFIDENCE_TOPIC, LEFT_RECT_IMAGE_TOPIC, LEFT_RECT_CAMERA_INFO_TOPIC)

LEFT_RECT_OPTICAL_FRAME = "stereo_left_rect_optical_frame"
"""Frame of every output: the rectified left optical frame (x right, y down, z forward)."""


@dataclass(frozen=True)
class StereoMessages:
    """One synchronised set of input messages (rclpy's or rosbags' classes)."""

    left_image: Any
    right_image: Any
    left_info: Any
    right_info: Any


@dataclass(frozen=True)
class StereoInput:
    """A converted set: the left stamp, raw RGB images, the camera models and the raw left frame id."""

    stamp_ns: int
    left_rgb: NDArray[np.uint8]
    right_rgb: NDArray[np.uint8]
    left_view: RectifiedView
    right_view: RectifiedView
    raw_frame_id: str


def convert_stereo_messages(
    messages: StereoMessages, topic_names: tuple[str, str, str, str] = INPUT_TOPICS
) -> StereoInput:
    """Numpy images and camera models of a set; raises MessageError naming the offending topic."""
    left_topic, right_topic, left_info_topic, right_info_topic = topic_names
    rgb: list[NDArray[np.uint8]] = []
    for msg, topic in ((messages.left_image, left_topic), (messages.right_image, right_topic)):
        try:
            rgb.append(image_to_rgb(msg))
        except MessageError as error:
            raise MessageError(f"{topic}: {error}") from error
    left_view = camera_info_to_view(messages.left_info, topic=left_info_topic)
    right_view = camera_info_to_view(messages.right_info, topic=right_info_topic)
    frame_id = str(messages.left_image.header.frame_id) or topics.LEFT_OPTICAL_FRAME
    return StereoInput(stamp_ns(messages.left_image.header), rgb[0], rgb[1], left_view, right_view, frame_id)


def process_stereo_messages(
    stage: StereoDepthStage, messages: StereoMessages, topic_names: tuple[str, str, str, str] = INPUT_TOPICS
) -> tuple[StereoInput, RectifiedDepth]:
    """Convert a set and run the depth stage; raises MessageError or FrontendError (both name the problem)."""
    converted = convert_stereo_messages(messages, topic_names)
    result = stage.process(
        converted.stamp_ns, converted.left_rgb, converted.right_rgb, converted.left_view, converted.right_view
    )
    return converted, result


def rectified_left_view(calibration: StereoCalibration) -> RectifiedView:
    """The camera model of the rectified left image: K = P[:3, :3], no distortion, R = I, same P."""
    P = calibration.left.P
    width, height = calibration.size
    return RectifiedView(PinholeCamera(width, height, P[:, :3], np.zeros(5)), np.eye(3), P)


def depth_image_array(depth: NDArray[np.floating]) -> NDArray[np.float32]:
    """Depth for the 32FC1 image: metres, NaN where the prior has no depth (0 or non-finite)."""
    values = np.asarray(depth, dtype=np.float32)
    return np.where(np.isfinite(values) & (values > 0), values, np.float32(np.nan)).astype(np.float32)


def depth_outputs(
    result: RectifiedDepth, classes: MessageClasses, stamp_ns: int, frame_id: str = LEFT_RECT_OPTICAL_FRAME
) -> dict[str, Any]:
    """The node's output messages of one processed pair, keyed by (node-relative) topic."""
    return {
        DEPTH_TOPIC: array_to_image(
            classes, depth_image_array(result.prior.depth), encoding="32FC1", stamp_ns=stamp_ns, frame_id=frame_id
        ),
        CONFIDENCE_TOPIC: array_to_image(
            classes,
            np.asarray(result.prior.confidence, dtype=np.float32),
            encoding="32FC1",
            stamp_ns=stamp_ns,
            frame_id=frame_id,
        ),
        LEFT_RECT_IMAGE_TOPIC: array_to_image(
            classes,
            np.ascontiguousarray(result.left, dtype=np.uint8),
            encoding="rgb8",
            stamp_ns=stamp_ns,
            frame_id=frame_id,
        ),
        LEFT_RECT_CAMERA_INFO_TOPIC: view_to_camera_info(
            classes, rectified_left_view(result.calibration), stamp_ns=stamp_ns, frame_id=frame_id
        ),
    }


def rectification_transform(
    calibration: StereoCalibration,
    classes: MessageClasses,
    stamp_ns: int,
    raw_frame_id: str = topics.LEFT_OPTICAL_FRAME,
    rect_frame_id: str = LEFT_RECT_OPTICAL_FRAME,
) -> Any:
    """tf2_msgs/TFMessage with the static transform raw left optical frame <- rectified left frame."""
    return matrix_to_tf(classes, calibration.T_raw_rect, stamp_ns=stamp_ns, parent=raw_frame_id, child=rect_frame_id)


T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Single-slot, thread-safe buffer: a new item replaces an unprocessed one, which is counted as dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self.received = 0
        """Items put so far."""
        self.dropped = 0
        """Items replaced before anyone took them."""

    def put(self, item: T) -> bool:
        """Store ``item``; True when it replaced (dropped) an item nobody took."""
        with self._lock:
            replaced = self._item is not None
            self._item = item
            self.received += 1
            if replaced:
                self.dropped += 1
            return replaced

    def take(self) -> T | None:
        """The latest item, or None; the slot is empty afterwards."""
        with self._lock:
            item, self._item = self._item, None
            return item
