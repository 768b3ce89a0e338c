"""ROS-free logic of the front-end nodes: stereo_frontend, depth_prior and matcher.

Each stage takes one synchronised input set (messages of any classes with ROS 2 field names) and
returns the messages its node publishes, keyed by topic: node-relative (``~/...``, see
:mod:`~stereo_nerf_core.pipeline.node_topics`) or absolute (``/tf_static``). Everything is stamped
with the left image's stamp. The rclpy nodes and :class:`~stereo_nerf_core.pipeline.graph.StageGraph`
call the same methods, so both publish the same messages field for field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.masks import background_mask, specular_mask
from stereo_nerf_core.frontend.matching import make_matcher, match_stereo, triangulate_stereo
from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, StereoCalibration
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.transforms import make_se3
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.messages import (
    MessageClasses,
    array_to_image,
    camera_info_to_view,
    check_image_size,
    image_to_rgb,
    stamp_ns,
    view_to_camera_info,
)
from stereo_nerf_core.io.ros_conversions.compressed import any_image_to_rgb
from stereo_nerf_core.io.ros_conversions.point_cloud import arrays_to_point_cloud, columns_to_point_cloud
from stereo_nerf_core.io.ros_conversions.trajectory import StampedTransform, transforms_to_tf
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.spine.stages import CalibrationCache, RectifiedDepth, StereoDepthStage


@dataclass(frozen=True)
class StereoMessages:
    """One synchronised set of input messages (rclpy's or rosbags' classes)."""

    left_image: Any
    right_image: Any
    left_info: Any
    right_info: Any


@dataclass(frozen=True)
class StereoInput:
    """A converted set: the left stamp, RGB images, the camera models and the raw frame ids."""

    stamp_ns: int
    left_rgb: NDArray[np.uint8]
    right_rgb: NDArray[np.uint8]
    left_view: RectifiedView
    right_view: RectifiedView
    raw_frame_id: str
    right_raw_frame_id: str = topics.RIGHT_OPTICAL_FRAME


def convert_stereo_messages(messages: StereoMessages, topic_names: tuple[str, ...] = names.RAW_INPUTS) -> StereoInput:
    """Images (Image or CompressedImage) and camera models of a set; MessageError names the topic at fault."""
    left_topic, right_topic, left_info_topic, right_info_topic = topic_names
    left = any_image_to_rgb(messages.left_image, topic=left_topic)
    right = any_image_to_rgb(messages.right_image, topic=right_topic)
    left_view = camera_info_to_view(messages.left_info, topic=left_info_topic)
    right_view = camera_info_to_view(messages.right_info, topic=right_info_topic)
    return StereoInput(
        stamp_ns(messages.left_image.header),
        left,
        right,
        left_view,
        right_view,
        str(messages.left_image.header.frame_id) or topics.LEFT_OPTICAL_FRAME,
        str(messages.right_image.header.frame_id) or topics.RIGHT_OPTICAL_FRAME,
    )


def rectified_views(calibration: StereoCalibration) -> tuple[RectifiedView, RectifiedView]:
    """Camera models of the rectified images: K = P[:3, :3], no distortion, R = I, the same P."""
    width, height = calibration.size
    return tuple(  # type: ignore[return-value]
        RectifiedView(PinholeCamera(width, height, view.P[:, :3], np.zeros(5)), np.eye(3), view.P)
        for view in (calibration.left, calibration.right)
    )


def calibration_from_rectified(left_info: Any, right_info: Any, *, topics_: tuple[str, str]) -> StereoCalibration:
    """The rectified pair two rectified camera_infos describe (K = P[:3, :3], R = I)."""
    views = [camera_info_to_view(msg, topic=topic) for msg, topic in zip((left_info, right_info), topics_, strict=True)]
    try:
        return StereoCalibration(*views)
    except GeometryError as error:
        raise FrontendError(f"{topics_[0]} and {topics_[1]} do not form a rectified stereo pair: {error}") from error


class RectifiedCalibrations:
    """:func:`calibration_from_rectified`, built once per distinct pair of projection matrices and sizes."""

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._calibration: StereoCalibration | None = None

    def get(self, left_info: Any, right_info: Any, *, topics_: tuple[str, str]) -> StereoCalibration:
        """The rectified pair of two rectified camera_infos; FrontendError / MessageError name the topic."""
        key = np.array(
            [*left_info.p, *right_info.p, left_info.width, left_info.height, right_info.width, right_info.height],
            dtype=np.float64,
        ).tobytes()
        if key != self._key or self._calibration is None:
            self._calibration = calibration_from_rectified(left_info, right_info, topics_=topics_)
            self._key = key
        return self._calibration


def rectification_tf(
    calibration: StereoCalibration, classes: MessageClasses, stamp: int, raw_left: str, raw_right: str
) -> Any:
    """tf2_msgs/TFMessage: raw left <- rectified left and raw right <- rectified right (rotations R^T)."""
    return transforms_to_tf(
        classes,
        [
            StampedTransform(stamp, raw_left, names.LEFT_RECT_OPTICAL_FRAME, calibration.T_raw_rect),
            StampedTransform(
                stamp, raw_right, names.RIGHT_RECT_OPTICAL_FRAME, make_se3(calibration.right.R.T, np.zeros(3))
            ),
        ],
    )


class _StaticTransforms:
    """Publishes /tf_static again only when the calibration or the raw frames change."""

    def __init__(self) -> None:
        self._for: tuple[StereoCalibration, str, str] | None = None

    def due(self, calibration: StereoCalibration, raw_left: str, raw_right: str) -> bool:
        previous = self._for
        if previous is not None and previous[0] is calibration and previous[1:] == (raw_left, raw_right):
            return False
        self._for = (calibration, raw_left, raw_right)
        return True


class StereoFrontendStage:
    """stereo_frontend: raw pair + camera_info -> rectified pair + rectified camera_info, /tf_static."""

    name = names.STEREO_FRONTEND

    def __init__(self, config: PipelineConfig, classes: MessageClasses) -> None:
        self.config = config
        self.classes = classes
        self.calibrations = CalibrationCache()
        self.static = _StaticTransforms()

    def process(self, messages: StereoMessages, topic_names: tuple[str, ...] = names.RAW_INPUTS) -> dict:
        """Outputs of one set; raises MessageError or FrontendError naming the topic or the problem."""
        converted = convert_stereo_messages(messages, topic_names)
        for rgb, view, topic, info_topic in (
            (converted.left_rgb, converted.left_view, topic_names[0], topic_names[2]),
            (converted.right_rgb, converted.right_view, topic_names[1], topic_names[3]),
        ):
            check_image_size(rgb, view.camera.size, topic, info_topic)
        calibration = self.calibrations.get(converted.left_view, converted.right_view)
        left, right = calibration.rectify(converted.left_rgb, converted.right_rgb)
        stamp, classes = converted.stamp_ns, self.classes
        left_view, right_view = rectified_views(calibration)
        outputs: dict[str, Any] = {
            names.LEFT_RECT_IMAGE: array_to_image(
                classes, left, encoding="rgb8", stamp_ns=stamp, frame_id=names.LEFT_RECT_OPTICAL_FRAME
            ),
            names.RIGHT_RECT_IMAGE: array_to_image(
                classes, right, encoding="rgb8", stamp_ns=stamp, frame_id=names.RIGHT_RECT_OPTICAL_FRAME
            ),
            names.LEFT_RECT_INFO: view_to_camera_info(
                classes, left_view, stamp_ns=stamp, frame_id=names.LEFT_RECT_OPTICAL_FRAME
            ),
            names.RIGHT_RECT_INFO: view_to_camera_info(
                classes, right_view, stamp_ns=stamp, frame_id=names.RIGHT_RECT_OPTICAL_FRAME
            ),
        }
        if classes.TFMessage is not None and self.static.due(
            calibration, converted.raw_frame_id, converted.right_raw_frame_id
        ):
            outputs[topics.TF_STATIC] = rectification_tf(
                calibration, classes, stamp, converted.raw_frame_id, converted.right_raw_frame_id
            )
        return outputs


def depth_image_array(depth: NDArray[np.floating]) -> NDArray[np.float32]:
    """Depth for the 32FC1 image: metres, NaN where the prior has no depth (0 or non-finite)."""
    values = np.asarray(depth, dtype=np.float32)
    return np.where(np.isfinite(values) & (values > 0), values, np.float32(np.nan)).astype(np.float32)


def tissue_mask_image(left_rect: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """mono8 (H, W): 255 where a rectified left pixel may be used (not specular, not background), else 0."""
    usable = ~specular_mask(left_rect) & ~background_mask(left_rect)
    return np.where(usable, 255, 0).astype(np.uint8)


def depth_outputs(
    result: RectifiedDepth,
    classes: MessageClasses,
    stamp_ns: int,
    frame_id: str = names.LEFT_RECT_OPTICAL_FRAME,
) -> dict[str, Any]:
    """depth_prior's messages of one processed pair, keyed by node-relative topic (see node_topics)."""

    def image(pixels: NDArray[Any], encoding: str) -> Any:
        return array_to_image(classes, pixels, encoding=encoding, stamp_ns=stamp_ns, frame_id=frame_id)

    return {
        names.DEPTH: image(depth_image_array(result.prior.depth), "32FC1"),
        names.CONFIDENCE: image(np.asarray(result.prior.confidence, dtype=np.float32), "32FC1"),
        names.MASK: image(tissue_mask_image(result.left), "mono8"),
        names.DEPTH_INFO: view_to_camera_info(
            classes, rectified_views(result.calibration)[0], stamp_ns=stamp_ns, frame_id=frame_id
        ),
    }


def rectified_pair(
    left_image: Any, right_image: Any, calibration: StereoCalibration, topic_names: tuple[str, ...]
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """RGB arrays of a rectified pair, checked against its calibration; errors name the topic."""
    left = image_to_rgb(left_image, topic=topic_names[0])
    right = image_to_rgb(right_image, topic=topic_names[1])
    for rgb, topic in ((left, topic_names[0]), (right, topic_names[1])):
        check_image_size(rgb, calibration.size, topic, topic_names[2])
    return left, right


FRONT_END_PEERS = 2
"""Front-end nodes beside depth_prior (stereo_frontend, tracker), each busy on about one core at the camera's rate."""


def depth_prior_threads(requested: int, cores: int) -> int:
    """OpenCV threads of the depth_prior node: ``depth_prior.threads``, or with 0 the cores its front-end peers
    leave (at least 1). More threads than that only contend with them: on 2 cores, 2 threads made the prior
    151 ms per pair in the live graph against 107 ms with 1 (``benchmarks/live_graph.py``)."""
    return requested if requested > 0 else max(1, cores - FRONT_END_PEERS)


class DepthPriorNodeStage:
    """depth_prior: stereo_frontend's rectified pair -> depth, confidence, mask and the depth's camera_info.

    The pair arrives rectified (the graph rectifies once, in stereo_frontend); the prior is the same as the
    replay's, which rectifies and estimates in one :class:`StereoDepthStage`.
    """

    name = names.DEPTH_PRIOR

    def __init__(self, config: PipelineConfig, classes: MessageClasses) -> None:
        self.config = config
        self.classes = classes
        self.stage = StereoDepthStage(config.depth_prior)
        self.calibrations = RectifiedCalibrations()

    def reconfigure(self, config: PipelineConfig) -> None:
        """Take changed parameters (``ros2 param set``) from the next set on: a new prior with them."""
        self.config = config
        self.stage = StereoDepthStage(config.depth_prior)

    def run(
        self,
        left_image: Any,
        right_image: Any,
        left_info: Any,
        right_info: Any,
        *,
        topic_names: tuple[str, ...] = names.DEPTH_PRIOR_INPUTS,
    ) -> RectifiedDepth:
        """The prior of one rectified set; raises MessageError or FrontendError naming the topic or problem."""
        calibration = self.calibrations.get(left_info, right_info, topics_=(topic_names[2], topic_names[3]))
        left, right = rectified_pair(left_image, right_image, calibration, topic_names)
        prior = self.stage.estimate_prior(left, right, calibration)
        return RectifiedDepth(stamp_ns(left_image.header), calibration, left, right, prior)

    def process(
        self,
        left_image: Any,
        right_image: Any,
        left_info: Any,
        right_info: Any,
        *,
        topic_names: tuple[str, ...] = names.DEPTH_PRIOR_INPUTS,
    ) -> dict[str, Any]:
        """Outputs of one rectified set (see :func:`depth_outputs`)."""
        result = self.run(left_image, right_image, left_info, right_info, topic_names=topic_names)
        return depth_outputs(result, self.classes, result.stamp_ns)


class MatcherStage:
    """matcher: rectified pair + rectified camera_infos -> sparse stereo matches as a coloured PointCloud2."""

    name = names.MATCHER

    def __init__(self, config: PipelineConfig, classes: MessageClasses) -> None:
        self.config = config
        self.classes = classes
        self.matcher = make_matcher(config.matching)
        self.calibrations = RectifiedCalibrations()
        self.last_matches = 0
        """Matches that survived the stereo filters in the last set."""

    def reconfigure(self, config: PipelineConfig) -> None:
        """Take changed parameters (``ros2 param set``) from the next set on: a new matcher with them."""
        self.config = config
        self.matcher = make_matcher(config.matching)

    def process(
        self,
        left_image: Any,
        right_image: Any,
        left_info: Any,
        right_info: Any,
        *,
        topic_names: tuple[str, ...] = names.MATCHER_INPUTS,
    ) -> dict:
        """``~/matches``: the stereo matches (float32 fields ``u_left``, ``v_left``, ``u_right``, ``v_right`` in
        rectified pixels and ``confidence``); ``~/points``: them triangulated (x, y, z in metres, rgb), both in
        the rectified left frame."""
        calibration = self.calibrations.get(left_info, right_info, topics_=(topic_names[2], topic_names[3]))
        left, right = rectified_pair(left_image, right_image, calibration, topic_names)
        matches = match_stereo(left, right, calibration, config=self.config.matching, matcher=self.matcher)
        points = triangulate_stereo(matches, calibration, left)
        self.last_matches = len(matches)
        frame = str(left_image.header.frame_id) or names.LEFT_RECT_OPTICAL_FRAME
        stamp = stamp_ns(left_image.header)
        columns = {
            "u_left": matches.points_left[:, 0],
            "v_left": matches.points_left[:, 1],
            "u_right": matches.points_right[:, 0],
            "v_right": matches.points_right[:, 1],
            "confidence": matches.confidence,
        }
        return {
            names.MATCHES: columns_to_point_cloud(self.classes, columns, stamp_ns=stamp, frame_id=frame),
            names.POINTS: arrays_to_point_cloud(self.classes, points.xyz, points.rgb, stamp_ns=stamp, frame_id=frame),
        }
