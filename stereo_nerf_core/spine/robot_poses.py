"""Camera poses a robot gives: its tf tree (/tf and /tf_static) or a PoseStamped topic, looked up by stamp.

With ``tracking.pose_source`` "tf" the pose of a frame is the chain from ``tracking.world_frame`` to the
camera frame composed from every /tf and /tf_static edge, each interpolated at the frame's stamp (see
:class:`~stereo_nerf_core.geometry.transform_buffer.TransformBuffer`); with "ground_truth" it is the
PoseStamped of the camera, interpolated the same way. The live tracker and the offline replay both look
poses up here, so a bag gives the same poses in both. Thread-safe: messages may arrive on one thread
while another waits for a late transform.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import TrackingConfig
from stereo_nerf_core.geometry.transform_buffer import TransformBuffer, TransformError
from stereo_nerf_core.io.messages import pose_to_matrix, stamp_ns
from stereo_nerf_core.io.ros_conversions.trajectory import tf_to_transforms

F64 = NDArray[np.float64]


class RobotPoses:
    """External poses of the camera (see the module docstring)."""

    def __init__(self, tracking: TrackingConfig) -> None:
        self.tracking = tracking
        self.buffer = TransformBuffer()
        self.last_error: str | None = None
        """Why the last lookup failed (None after a success)."""

    def accept_tf(self, msg: Any, *, static: bool = False) -> None:
        """Every transform of a tf2_msgs/TFMessage (``static``: from /tf_static)."""
        for transform in tf_to_transforms(msg):
            self.buffer.set_transform(
                transform.parent, transform.child, transform.stamp_ns, transform.T_parent_child, static=static
            )

    def accept_pose(self, msg: Any, camera_frame: str) -> None:
        """A PoseStamped of ``camera_frame`` in its header's frame (the ground-truth pose topic)."""
        parent = str(msg.header.frame_id) or self.tracking.world_frame
        self.buffer.set_transform(parent, camera_frame, stamp_ns(msg.header), pose_to_matrix(msg.pose))

    def camera_frame(self, image_frame_id: str) -> str:
        """The frame whose pose is looked up: ``tracking.camera_frame``, else the image's frame_id."""
        return self.tracking.camera_frame or image_frame_id

    def pose(self, stamp: int, camera_frame: str, *, timeout_s: float = 0.0) -> F64 | None:
        """``T_world_camera`` (4, 4) at ``stamp``, waiting up to ``timeout_s`` for late transforms; None (and
        :attr:`last_error` says why) when the chain cannot be composed."""
        try:
            T = self.buffer.wait_for(self.tracking.world_frame, camera_frame, stamp, timeout_s)
        except TransformError as error:
            self.last_error = f"no pose of {camera_frame} in {self.tracking.world_frame} at {stamp} ns: {error}"
            return None
        self.last_error = None
        return T
