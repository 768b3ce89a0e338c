"""Where each frame's camera pose comes from: stereo odometry, /tf (the robot), or ground truth.

``tracking.pose_source``: "odometry" (default: the live pipeline's own stereo visual odometry),
"tf" (world -> left optical frame on /tf, e.g. robot kinematics) or "ground_truth" (the bag's
/ground_truth/pose, an oracle for experiments). Poses are of the rectified left camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.odometry import StereoOdometry, TrackingResult
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
    """Gives each processed frame its pose according to ``tracking.pose_source``."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.source = config.tracking.pose_source
        self.odometry: StereoOdometry | None = None
        self.lost = 0

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
        if self.source == "tf":
            from_tf = None if frame.T_world_left is None else frame.T_world_left @ calibration.T_raw_rect
            return FramePose(from_tf, truth, None)
        if self.odometry is None or self.odometry.calibration is not calibration:
            self.odometry = StereoOdometry(
                calibration,
                config=self.config.odometry,
                keyframe_config=self.config.keyframes,
                matching_config=self.config.matching,
            )
        result = self.odometry.track(left, prior, exclude=instrument)
        if result.tracking_lost:
            self.lost += 1
            return FramePose(None, truth, result)
        return FramePose(result.T_world_camera, truth, result)
