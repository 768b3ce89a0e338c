"""ROS-free logic of the tracker node: camera poses, the path, /tf and keyframe selection.

Input per frame (exact stamps, all from depth_prior): depth, confidence, mask, the rectified left
image and the rectified left and right camera_info. The pose of the rectified left camera comes
from ``tracking.pose_source``: "odometry" (stereo visual odometry on the prior), "tf" (the robot's
``world -> <raw left optical frame>`` on /tf) or "ground_truth" (a PoseStamped topic, the bag's
/ground_truth/pose); the latter two are the robot-provided poses, matched to the frame's stamp
within 1 ms. Keyframes are chosen by the odometry or, for external poses, by the same selector.

Outputs (stamped with the frame's stamp): ``~/pose`` (PoseStamped of the rectified left camera in
``world``), ``~/path`` (nav_msgs/Path of those poses), ``~/keyframe_pose`` (keyframes only) and,
with odometry (with external poses the robot owns that transform), ``/tf``: ``world`` -> the raw
left optical frame (REP 105: the rectified frame hangs below it on /tf_static). The raw frame and
its rectification rotation come from the latest raw left camera_info.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.keyframes import KeyframeSelector
from stereo_nerf_core.frontend.odometry import StereoOdometry
from stereo_nerf_core.geometry.transforms import invert_se3, make_se3
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.messages import (
    MessageClasses,
    camera_info_to_view,
    image_to_array,
    image_to_rgb,
    matrix_to_pose_stamped,
    pose_to_matrix,
    stamp_ns,
)
from stereo_nerf_core.io.ros_conversions.trajectory import StampedTransform, poses_to_path, tf_to_transforms
from stereo_nerf_core.io.ros_conversions.trajectory import transforms_to_tf as make_tf
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import calibration_from_rectified

F64 = NDArray[np.float64]
EXTERNAL_TOLERANCE_NS = 1_000_000
EXTERNAL_KEPT = 200


def prior_from_images(depth: NDArray[np.float32], confidence: NDArray[np.float32], fx_baseline: float) -> DepthPrior:
    """A :class:`DepthPrior` of depth (NaN or 0: none) and confidence images (H, W)."""
    valid = np.isfinite(depth) & (depth > 0)
    metres = np.where(valid, depth, 0).astype(np.float32)
    disparity = np.where(valid, fx_baseline / np.where(valid, depth, 1), 0).astype(np.float32)
    return DepthPrior(disparity, metres, np.where(valid, confidence, 0).astype(np.float32))


class TrackerStage:
    """tracker (see the module docstring); not thread-safe: the node calls it from one worker."""

    name = names.TRACKER

    def __init__(self, config: PipelineConfig, classes: MessageClasses) -> None:
        self.config = config
        self.classes = classes
        self.source = config.tracking.pose_source
        self.odometry: StereoOdometry | None = None
        self.selector = KeyframeSelector(config.keyframes)
        self.raw_frame_id = topics.LEFT_OPTICAL_FRAME
        self.T_raw_rect: F64 = np.eye(4)
        self.external: OrderedDict[int, F64] = OrderedDict()
        """Robot poses of the raw left optical frame by stamp (tf or PoseStamped)."""
        self.path: deque[tuple[int, F64]] = deque(maxlen=config.nodes.path_max_poses)
        self.tracked = 0
        self.lost = 0
        self.keyframes = 0

    # -- side inputs ---------------------------------------------------------------------------
    def accept_raw_camera_info(self, msg: Any, topic: str = topics.LEFT_CAMERA_INFO) -> None:
        """The raw left camera_info: its frame is the /tf child, its R the raw <- rectified rotation."""
        view = camera_info_to_view(msg, topic=topic)
        self.T_raw_rect = make_se3(view.R.T, np.zeros(3))
        self.raw_frame_id = str(msg.header.frame_id) or topics.LEFT_OPTICAL_FRAME

    def accept_tf(self, msg: Any) -> None:
        """Keep ``world -> raw left optical frame`` transforms of a /tf message (pose_source tf)."""
        for transform in tf_to_transforms(msg):
            if transform.parent == topics.WORLD_FRAME and transform.child == self.raw_frame_id:
                self._keep_external(transform.stamp_ns, transform.T_parent_child)

    def accept_pose(self, msg: Any) -> None:
        """Keep a PoseStamped of the raw left optical frame in ``world`` (pose_source ground_truth)."""
        if str(msg.header.frame_id) == topics.WORLD_FRAME:
            self._keep_external(stamp_ns(msg.header), pose_to_matrix(msg.pose))

    def _keep_external(self, stamp: int, T_world_raw: F64) -> None:
        self.external[stamp] = T_world_raw
        while len(self.external) > EXTERNAL_KEPT:
            self.external.popitem(last=False)

    def _external_at(self, stamp: int) -> F64 | None:
        if stamp in self.external:
            return self.external[stamp]
        near = [s for s in self.external if abs(s - stamp) <= EXTERNAL_TOLERANCE_NS]
        return self.external[min(near, key=lambda s: abs(s - stamp))] if near else None

    # -- frames --------------------------------------------------------------------------------
    def process(
        self,
        depth_msg: Any,
        confidence_msg: Any,
        mask_msg: Any,
        image_msg: Any,
        left_info: Any,
        right_info: Any,
        *,
        topic_names: tuple[str, ...] = names.TRACKER_INPUTS,
    ) -> dict:
        """Outputs for one frame: nothing when the pose is unknown (tracking lost, no robot pose yet)."""
        stamp = stamp_ns(image_msg.header)
        T_world_rect, is_keyframe = self._pose(
            stamp, depth_msg, confidence_msg, mask_msg, image_msg, left_info, right_info, topic_names
        )
        if T_world_rect is None:
            self.lost += 1
            return {}
        self.tracked += 1
        self.path.append((stamp, T_world_rect))
        classes, world = self.classes, topics.WORLD_FRAME
        pose = matrix_to_pose_stamped(classes, T_world_rect, stamp_ns=stamp, frame_id=world)
        outputs: dict[str, Any] = {}
        if is_keyframe:  # first, so that the trainer has the keyframe when the frame's pose asks for renders
            self.keyframes += 1
            outputs[names.KEYFRAME_POSE] = pose
        outputs[names.POSE] = pose
        outputs[names.PATH] = poses_to_path(
            classes, [s for s, _ in self.path], [T for _, T in self.path], stamp_ns=stamp, frame_id=world
        )
        if self.source == "odometry":
            T_world_raw = T_world_rect @ invert_se3(self.T_raw_rect)
            outputs[topics.TF] = make_tf(classes, [StampedTransform(stamp, world, self.raw_frame_id, T_world_raw)])
        return outputs

    def _pose(
        self,
        stamp: int,
        depth_msg: Any,
        confidence_msg: Any,
        mask_msg: Any,
        image_msg: Any,
        left_info: Any,
        right_info: Any,
        topic_names: tuple[str, ...],
    ) -> tuple[F64 | None, bool]:
        left = image_to_rgb(image_msg, topic=topic_names[3])
        if self.source != "odometry":
            T_world_raw = self._external_at(stamp)
            if T_world_raw is None:
                return None, False
            T_world_rect = T_world_raw @ self.T_raw_rect
            decision = self.selector.consider(T_world_rect, image=left)
            return T_world_rect, decision.is_keyframe
        calibration = calibration_from_rectified(left_info, right_info, topics_=(topic_names[4], topic_names[5]))
        if self.odometry is None or self.odometry.calibration.size != calibration.size or not np.allclose(
            self.odometry.calibration.K_rect, calibration.K_rect
        ):
            self.odometry = StereoOdometry(
                calibration,
                config=self.config.odometry,
                keyframe_config=self.config.keyframes,
                matching_config=self.config.matching,
            )
        depth = image_to_array(depth_msg, topic=topic_names[0]).astype(np.float32)
        confidence = image_to_array(confidence_msg, topic=topic_names[1]).astype(np.float32)
        usable = image_to_array(mask_msg, topic=topic_names[2]) > 0
        prior = prior_from_images(depth, confidence, calibration.fx * calibration.baseline_m)
        result = self.odometry.track(left, prior, exclude=~usable)
        if result.tracking_lost:
            return None, False
        return result.T_world_camera, result.is_keyframe
