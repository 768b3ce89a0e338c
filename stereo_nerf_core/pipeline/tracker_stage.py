"""ROS-free logic of the tracker node: camera poses, the path, /tf and keyframe selection.

Input per frame (exact stamps): stereo_frontend's rectified left image and rectified camera_infos, and
depth_prior's depth and confidence. The odometry poses a frame from its image alone (tracking the current
keyframe's features, instruments and specular highlights masked out), so the pose goes out as soon as
the image is in; only a frame that becomes a keyframe waits for its depth prior (see
:meth:`StereoOdometry.track_image`). The pose of the rectified left camera comes
from ``tracking.pose_source``: "odometry" (stereo visual odometry on the prior), "tf" (the robot's tf
chain from ``tracking.world_frame`` to the camera, composed from /tf and /tf_static) or "ground_truth"
(a PoseStamped topic, the bag's /ground_truth/pose); the latter two are the robot-provided poses,
interpolated at the frame's stamp by :class:`~stereo_nerf_core.spine.robot_poses.RobotPoses`, which
waits up to ``tracking.tf_timeout_s`` for one still to come. The pose provider is the replay's,
:class:`~stereo_nerf_core.spine.poses.PoseSource` (odometry in two halves here; keyframes among external
poses by the odometry's selector).

Outputs (stamped with the frame's stamp): ``~/pose`` (PoseStamped of the rectified left camera in
``world``), ``~/path`` (nav_msgs/Path of those poses), ``~/keyframe_pose`` (keyframes only) and,
with odometry (with external poses the robot owns that transform), ``/tf``: ``world`` -> the raw
left optical frame (REP 105: the rectified frame hangs below it on /tf_static). The raw frame and
its rectification rotation come from the latest raw left camera_info.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.masks import background_mask, specular_mask
from stereo_nerf_core.frontend.odometry import PendingFrame, TrackingResult
from stereo_nerf_core.geometry.transforms import invert_se3, make_se3
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.messages import (
    MessageClasses,
    camera_info_to_view,
    image_to_array,
    image_to_rgb,
    matrix_to_pose_stamped,
    stamp_ns,
)
from stereo_nerf_core.io.ros_conversions.trajectory import StampedTransform
from stereo_nerf_core.io.ros_conversions.trajectory import transforms_to_tf as make_tf
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.backpressure import RateGate
from stereo_nerf_core.pipeline.errors import PipelineError
from stereo_nerf_core.pipeline.node_stages import RectifiedCalibrations
from stereo_nerf_core.spine.poses import PoseSource
from stereo_nerf_core.spine.robot_poses import RobotPoses

F64 = NDArray[np.float64]


def prior_from_images(depth: NDArray[np.float32], confidence: NDArray[np.float32], fx_baseline: float) -> DepthPrior:
    """A :class:`DepthPrior` of depth (NaN or 0: none) and confidence images (H, W)."""
    valid = np.isfinite(depth) & (depth > 0)
    metres = np.where(valid, depth, 0).astype(np.float32)
    disparity = np.where(valid, fx_baseline / np.where(valid, depth, 1), 0).astype(np.float32)
    return DepthPrior(disparity, metres, np.where(valid, confidence, 0).astype(np.float32))


class ThinnedPath:
    """The whole trajectory in at most ``limit`` poses: every ``stride``-th pose and the newest; when it is full,
    every other kept pose is dropped and the stride doubles (evenly spaced over the run, bounded for hours)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 2)
        self.stride = 1
        self.count = 0
        self.kept: list[Any] = []
        self.newest: Any = None

    def append(self, pose: Any) -> None:
        """Add the pose of the next tracked frame."""
        if self.count % self.stride == 0:
            self.kept.append(pose)
            if len(self.kept) >= self.limit:
                self.kept, self.stride = self.kept[::2], 2 * self.stride
        self.count += 1
        self.newest = pose

    def poses(self) -> list[Any]:
        """The kept poses, oldest first, ending with the newest (a new list: a message keeps it as it was)."""
        return list(self.kept) if not self.kept or self.kept[-1] is self.newest else [*self.kept, self.newest]


class TrackerStage:
    """tracker (see the module docstring): one worker calls :meth:`track` and :meth:`finish` in frame order;
    priors may arrive on another thread (:meth:`accept_prior`)."""

    name = names.TRACKER

    def __init__(self, config: PipelineConfig, classes: MessageClasses) -> None:
        self.config = config
        self.classes = classes
        self.poses = PoseSource(config)
        """The pose provider: odometry, or the robot's poses (:attr:`robot`) with their keyframes."""
        self.raw_frame_id = topics.LEFT_OPTICAL_FRAME
        self.T_raw_rect: F64 = np.eye(4)
        self.robot = RobotPoses(config.tracking)
        """Robot poses of the raw left optical frame (tf chain or PoseStamped)."""
        self.calibrations = RectifiedCalibrations()
        self.pose_timeout_s = config.tracking.tf_timeout_s
        """How long :meth:`process` waits for a robot pose still to come (0 where nothing can arrive meanwhile)."""
        self.path = ThinnedPath(config.nodes.path_max_poses)
        """PoseStamped of the tracked frames over the whole run, at most ``nodes.path_max_poses``, built once."""
        self.path_gate = RateGate(config.nodes.path_rate_hz, name="nodes.path_rate_hz")
        self.tracked = 0
        self.lost = 0
        self.lost_reason: str | None = None
        """Why the last frame without a pose had none."""
        self.keyframes = 0
        self.priors_missing = 0
        """Would-be keyframes whose depth prior never came (depth_prior skipped them): tracked, not keyframes."""
        self.waiting: tuple[int, PendingFrame, float] | None = None
        """The frame waiting for its prior: stamp, odometry state, fx * baseline."""
        self._priors: dict[int, tuple[Any, Any]] = {}
        self._newest_prior = -1
        self._priors_changed = threading.Condition()

    # -- side inputs ---------------------------------------------------------------------------
    def accept_raw_camera_info(self, msg: Any, topic: str = names.RAW_LEFT_INFO) -> None:
        """The raw left camera_info: its frame is the /tf child, its R the raw <- rectified rotation."""
        view = camera_info_to_view(msg, topic=topic)
        self.T_raw_rect = make_se3(view.R.T, np.zeros(3))
        self.raw_frame_id = str(msg.header.frame_id) or topics.LEFT_OPTICAL_FRAME

    def accept_tf(self, msg: Any, *, static: bool = False) -> None:
        """A /tf (or, ``static``, /tf_static) message: every edge of the robot's tree (pose_source tf)."""
        self.robot.accept_tf(msg, static=static)

    def accept_pose(self, msg: Any) -> None:
        """A PoseStamped of the raw left optical frame (pose_source ground_truth)."""
        self.robot.accept_pose(msg, self.robot.camera_frame(self.raw_frame_id))

    # -- depth priors (the executor's thread) ---------------------------------------------------
    def accept_prior(self, depth_msg: Any, confidence_msg: Any) -> None:
        """Keep a frame's depth prior (messages) until the tracker needs it for a keyframe."""
        stamp = stamp_ns(depth_msg.header)
        with self._priors_changed:
            self._priors[stamp] = (depth_msg, confidence_msg)
            self._newest_prior = max(self._newest_prior, stamp)
            while len(self._priors) > self.config.nodes.frame_cache:
                self._priors.pop(min(self._priors))
            self._priors_changed.notify_all()

    def wait_prior(self, stamp: int, timeout_s: float) -> tuple[Any, Any] | None:
        """The prior messages of ``stamp``, waiting up to ``timeout_s``; None at once when a later frame's prior
        came first (depth_prior skipped this frame: it never will come)."""
        with self._priors_changed:
            self._priors_changed.wait_for(lambda: stamp in self._priors or self._newest_prior > stamp, timeout_s)
            return self._priors.get(stamp)

    # -- frames (one worker) --------------------------------------------------------------------
    def track(
        self, image_msg: Any, left_info: Any, right_info: Any, *, topic_names: tuple[str, ...] = names.TRACKER_INPUTS
    ) -> dict[str, Any] | None:
        """Outputs of a frame from its image (or the robot's pose): nothing when the pose is unknown (tracking
        lost, no robot pose yet), None when the frame may become a keyframe and waits for its depth prior
        (then call :meth:`finish`)."""
        stamp = stamp_ns(image_msg.header)
        left = image_to_rgb(image_msg, topic=topic_names[0])
        if self.poses.external:
            camera = self.robot.camera_frame(self.raw_frame_id)
            T_world_raw = self.robot.pose(stamp, camera, timeout_s=self.pose_timeout_s)
            if T_world_raw is None:
                return self._outputs(stamp, None, False)
            T_world_rect = T_world_raw @ self.T_raw_rect
            return self._outputs(stamp, T_world_rect, self.poses.is_keyframe(T_world_rect, left))
        calibration = self.calibrations.get(left_info, right_info, topics_=(topic_names[1], topic_names[2]))
        step = self.poses.track_image(calibration, left, exclude=specular_mask(left) | background_mask(left))
        if isinstance(step, PendingFrame):
            self.waiting = (stamp, step, calibration.fx * calibration.baseline_m)
            return None
        return self._result(stamp, step)

    def finish(
        self, prior: tuple[Any, Any] | None, *, topic_names: tuple[str, ...] = names.TRACKER_PRIOR_INPUTS
    ) -> dict:
        """Outputs of the frame :meth:`track` left waiting, with its prior messages (None: never came)."""
        if self.waiting is None:
            raise PipelineError("tracker: finish() without a frame waiting for its prior")
        stamp, pending, fx_baseline = self.waiting
        self.waiting = None
        converted = None
        if prior is not None:
            depth = image_to_array(prior[0], topic=topic_names[0]).astype(np.float32)
            confidence = image_to_array(prior[1], topic=topic_names[1]).astype(np.float32)
            converted = prior_from_images(depth, confidence, fx_baseline)
        else:
            self.priors_missing += 1
        return self._result(stamp, self.poses.finish(pending, converted))

    def process(
        self,
        depth_msg: Any,
        confidence_msg: Any,
        image_msg: Any,
        left_info: Any,
        right_info: Any,
        *,
        topic_names: tuple[str, ...] = (*names.TRACKER_PRIOR_INPUTS, *names.TRACKER_INPUTS),
    ) -> dict:
        """Both halves at once, for a frame whose prior is at hand (the offline graph)."""
        outputs = self.track(image_msg, left_info, right_info, topic_names=topic_names[2:])
        return self.finish((depth_msg, confidence_msg), topic_names=topic_names[:2]) if outputs is None else outputs

    def _result(self, stamp: int, result: TrackingResult) -> dict[str, Any]:
        if result.tracking_lost:
            return self._outputs(stamp, None, False)
        return self._outputs(stamp, result.T_world_camera, result.is_keyframe)

    def _outputs(self, stamp: int, T_world_rect: F64 | None, is_keyframe: bool) -> dict[str, Any]:
        if T_world_rect is None:
            self.lost += 1
            self.lost_reason = self.robot.last_error if self.poses.external else "odometry lost track"
            return {}
        self.tracked += 1
        classes, world = self.classes, self.config.tracking.world_frame
        pose = matrix_to_pose_stamped(classes, T_world_rect, stamp_ns=stamp, frame_id=world)
        self.path.append(pose)
        outputs: dict[str, Any] = {}
        if is_keyframe:  # first, so that the trainer has the keyframe when the frame's pose asks for renders
            self.keyframes += 1
            outputs[names.KEYFRAME_POSE] = pose
        outputs[names.POSE] = pose
        if self.path_gate.due(stamp):
            outputs[names.PATH] = classes.Path(header=classes.header(stamp, world), poses=self.path.poses())
        if not self.poses.external and classes.TFMessage is not None:
            T_world_raw = T_world_rect @ invert_se3(self.T_raw_rect)
            outputs[topics.TF] = make_tf(classes, [StampedTransform(stamp, world, self.raw_frame_id, T_world_raw)])
        return outputs
