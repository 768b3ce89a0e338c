"""What the depth_prior node does, without rclpy (the logic itself lives in stereo_nerf_core).

Outputs (relative to the node, so ``/depth_prior/...`` by default), all stamped with the left image's
stamp and in the rectified left optical frame :data:`LEFT_RECT_OPTICAL_FRAME`:

* ``~/depth`` (sensor_msgs/Image, 32FC1): depth in metres along the rectified optical axis; pixels
  without a depth are NaN (REP 118), not 0 as in the core's :class:`DepthPrior`.
* ``~/confidence`` (32FC1): confidence in [0, 1], 0 where there is no depth.
* ``~/mask`` (mono8): 255 where the pixel may be used (not a specular highlight, not background).
* ``~/left/image_rect`` (rgb8): the rectified left image the depth is registered to.
* ``~/left/camera_info``: the rectified camera: K = P[:3, :3], D = 0, R = I, P unchanged.
* ``~/right/camera_info``: the rectified right camera (frame ``stereo_right_rect_optical_frame``),
  its P carries the baseline.

The rectified frames differ from the raw optical frames (the input images' frames) by the
rectification rotations R of the camera_infos; the node publishes raw <- rectified on
``/tf_static`` whenever the calibration or the raw frames change.
"""

from __future__ import annotations

from typing import Any

from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.messages import MessageClasses, matrix_to_tf
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import (
    StereoInput,
    StereoMessages,
    convert_stereo_messages,
    depth_image_array,
    depth_outputs,
    rectified_left_view,
)
from stereo_nerf_core.pipeline.stages import RectifiedDepth, StereoDepthStage
from stereo_nerf_ros.node_specs import SPECS

__all__ = [
    "CONFIDENCE_TOPIC",
    "DEPTH_TOPIC",
    "INPUT_TOPICS",
    "LEFT_RECT_CAMERA_INFO_TOPIC",
    "LEFT_RECT_IMAGE_TOPIC",
    "LEFT_RECT_OPTICAL_FRAME",
    "MASK_TOPIC",
    "NODE_NAME",
    "OUTPUT_TOPICS",
    "PARAMETER_GROUPS",
    "RIGHT_RECT_CAMERA_INFO_TOPIC",
    "StereoInput",
    "StereoMessages",
    "convert_stereo_messages",
    "depth_image_array",
    "depth_outputs",
    "process_stereo_messages",
    "rectification_transform",
    "rectified_left_view",
]

NODE_NAME = names.DEPTH_PRIOR
PARAMETER_GROUPS = SPECS[NODE_NAME].parameter_groups
"""Parameter groups of pipeline.yaml the node declares and reads."""

INPUT_TOPICS = names.RAW_INPUTS
"""Subscribed topics, in the order of :class:`StereoMessages` (remap them in the launch file)."""

DEPTH_TOPIC = names.DEPTH
CONFIDENCE_TOPIC = names.CONFIDENCE
MASK_TOPIC = names.MASK
LEFT_RECT_IMAGE_TOPIC = names.LEFT_RECT_IMAGE
LEFT_RECT_CAMERA_INFO_TOPIC = names.LEFT_RECT_INFO
RIGHT_RECT_CAMERA_INFO_TOPIC = names.RIGHT_RECT_INFO
OUTPUT_TOPICS = names.DEPTH_PRIOR_OUTPUTS

LEFT_RECT_OPTICAL_FRAME = names.LEFT_RECT_OPTICAL_FRAME
"""Frame of every output but the right camera_info: the rectified left optical frame."""


def process_stereo_messages(
    stage: StereoDepthStage, messages: StereoMessages, topic_names: tuple[str, str, str, str] = INPUT_TOPICS
) -> tuple[StereoInput, RectifiedDepth]:
    """Convert a set and run the depth stage; raises MessageError or FrontendError (both name the problem)."""
    converted = convert_stereo_messages(messages, topic_names)
    result = stage.process(
        converted.stamp_ns, converted.left_rgb, converted.right_rgb, converted.left_view, converted.right_view
    )
    return converted, result


def rectification_transform(
    calibration: StereoCalibration,
    classes: MessageClasses,
    stamp_ns: int,
    raw_frame_id: str = topics.LEFT_OPTICAL_FRAME,
    rect_frame_id: str = LEFT_RECT_OPTICAL_FRAME,
) -> Any:
    """tf2_msgs/TFMessage with the static transform raw left optical frame <- rectified left frame."""
    return matrix_to_tf(classes, calibration.T_raw_rect, stamp_ns=stamp_ns, parent=raw_frame_id, child=rect_frame_id)
