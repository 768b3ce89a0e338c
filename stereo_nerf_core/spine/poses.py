"""The one pose provider: each frame's camera pose from stereo odometry, /tf (the robot) or ground truth.

``tracking.pose_source``: "odometry" (default: the live pipeline's own stereo visual odometry),
"tf" (world -> left optical frame on /tf, e.g. robot kinematics) or "ground_truth" (the bag's
/ground_truth/pose, an oracle for experiments). A monocular frame (no right image) has no odometry: it takes
its /tf pose, else the identity (a static camera). Poses are of the rectified left camera. External poses
(tf, ground truth) are looked up by :class:`~stereo_nerf_core.spine.robot_poses.RobotPoses`; keyframes among
them are chosen by the same selector the odometry uses.

The offline replay asks for a frame's pose in one call (:meth:`PoseSource.pose`: the frame carries its robot
poses and its prior is at hand); the live tracker in two (:meth:`PoseSource.track_image` as soon as the image
is in, then :meth:`PoseSource.finish` with the depth prior for a would-be keyframe).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.keyframes import KeyframeSelector
from stereo_nerf_core.frontend.odometry import PendingFrame, StereoOdometry, TrackingResult
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.spine.frames import StereoFrame

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class FramePose:
    """The pose the pipeline uses for a frame, and the ground truth it is scored against."""

    T_world_camera: F64 | None
    """(4, 4) rectified left camera pose from the configured source; None when unavailable or lost."""
    T_world_camera_truth: F64 | None
    """(4, 4) ground-truth rectified left camera pose, when the bag has it."""
    tracking: TrackingResult | None
    """Odometry diagnostics when the source is odometry."""


class PoseSource:
    """Gives each frame its pose according to ``tracking.pose_source`` (see the module docstring)."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.source = config.tracking.pose_source
        self.odometry: StereoOdometry | None = None
        self.selector = KeyframeSelector(config.keyframes)
        """Keyframes among external poses (the odometry has its own, with the same rule)."""
        self.lost = 0
        self.identity = 0
        """Monocular frames without a pose on /tf, given the identity."""

    @property
    def external(self) -> bool:
        """Whether poses come from the robot (tf or ground truth), not from the odometry."""
        return self.source != "odometry"

    def pose(
        self,
        frame: StereoFrame,
        calibration: StereoCalibration,
        left: NDArray[np.uint8],
        prior: DepthPrior,
        instrument: NDArray[np.bool_],
    ) -> FramePose:
        """The pose of ``frame``'s rectified left camera (``left``, its ``prior`` and ``instrument`` mask)."""
        truth = None if frame.T_world_left_truth is None else frame.T_world_left_truth @ calibration.T_raw_rect
        if self.source == "ground_truth":
            return FramePose(truth, truth, None)
        if frame.right is None:
            return self._left_only(frame, calibration, truth)
        if self.source == "tf":
            from_tf = None if frame.T_world_left is None else frame.T_world_left @ calibration.T_raw_rect
            return FramePose(from_tf, truth, None)
        result = self.odometry_for(calibration).track(left, prior, exclude=instrument)
        if result.tracking_lost:
            self.lost += 1
            return FramePose(None, truth, result)
        return FramePose(result.T_world_camera, truth, result)

    def _left_only(self, frame: StereoFrame, calibration: StereoCalibration, truth: F64 | None) -> FramePose:
        """A monocular frame: no stereo odometry. Its pose from /tf when it has one; else, with the default source
        (odometry), the identity (a static camera, as a monocular endoscope video is), counted in ``identity``."""
        if frame.T_world_left is not None:
            return FramePose(frame.T_world_left @ calibration.T_raw_rect, truth, None)
        if self.source == "tf":
            return FramePose(None, truth, None)
        self.identity += 1
        return FramePose(np.eye(4), truth, None)

    def is_keyframe(self, T_world_camera: F64, left: NDArray[np.uint8]) -> bool:
        """Whether an external pose's frame (``left`` image) becomes a keyframe."""
        return self.selector.consider(T_world_camera, image=left).is_keyframe

    def track_image(
        self, calibration: StereoCalibration, left: NDArray[np.uint8], exclude: NDArray[np.bool_]
    ) -> TrackingResult | PendingFrame:
        """Odometry from the image alone; a :class:`PendingFrame` when it would become a keyframe and needs its
        depth prior (then :meth:`finish`)."""
        return self.odometry_for(calibration).track_image(left, exclude=exclude)

    def finish(self, pending: PendingFrame, prior: DepthPrior | None) -> TrackingResult:
        """The pose of the frame :meth:`track_image` left pending, with its prior (None: it never came)."""
        if self.odometry is None:
            raise FrontendError("finish() without a frame pending: call track_image() first")
        return self.odometry.finish(pending, prior)

    def odometry_for(self, calibration: StereoCalibration) -> StereoOdometry:
        """The odometry of ``calibration`` (a new one, starting over, when the rectified camera changes)."""
        if (
            self.odometry is None
            or self.odometry.calibration.size != calibration.size
            or not np.allclose(self.odometry.calibration.K_rect, calibration.K_rect)
        ):
            self.odometry = StereoOdometry(
                calibration,
                config=self.config.odometry,
                keyframe_config=self.config.keyframes,
                matching_config=self.config.matching,
            )
        return self.odometry
