"""A da Vinci-like stereo endoscope rig with SCARED-like optics, scaled to any resolution.

The raw cameras have mild plumb_bob distortion, slightly different intrinsics and a small relative
rotation, so rectification (``StereoCalibration.from_rig``) really has work to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, StereoCalibration
from stereo_nerf_core.geometry.transforms import invert_se3, make_se3, rotation_about_axis

Float = NDArray[np.float64]

FULL_SIZE = (1280, 1024)
"""(width, height) the reference intrinsics below are given for (SCARED's resolution)."""
LEFT_K_FULL = np.array([[1035.30, 0.0, 636.80], [0.0, 1035.10, 515.20], [0.0, 0.0, 1.0]])
RIGHT_K_FULL = np.array([[1034.70, 0.0, 642.30], [0.0, 1034.55, 509.90], [0.0, 0.0, 1.0]])
LEFT_D = np.array([-0.072, 0.048, 0.0004, -0.0003, 0.0])
"""Left plumb_bob distortion (k1, k2, p1, p2, k3): about 2% radial at the image corners."""
RIGHT_D = np.array([-0.068, 0.045, -0.0003, 0.0002, 0.0])
"""Right plumb_bob distortion."""
RELATIVE_ROTATION_AXIS = np.array([0.25, 1.0, 0.35])
"""Axis of the small rotation between the raw cameras (left frame)."""
RELATIVE_ROTATION_DEG = 0.35
"""Angle of the rotation between the raw cameras."""
RIGHT_CENTRE_DIRECTION = np.array([1.0, 0.004, -0.006])
"""Direction of the right camera centre from the left one (left frame), mostly along +x."""


@dataclass(frozen=True)
class StereoRig:
    """Raw left/right cameras, their extrinsics ``x_right = R_right_left @ x_left + t_right_left`` and
    the rectified calibration (what the camera_info messages carry)."""

    left: PinholeCamera
    right: PinholeCamera
    R_right_left: Float
    """(3, 3) rotation from the left raw optical frame to the right raw optical frame."""
    t_right_left: Float
    """(3,) translation of that transform in metres; its norm is the baseline."""
    calibration: StereoCalibration

    @property
    def T_right_left(self) -> Float:
        """(4, 4) transform mapping left raw optical coordinates to right raw optical coordinates."""
        return make_se3(self.R_right_left, self.t_right_left)

    @property
    def T_left_right(self) -> Float:
        """(4, 4) pose of the right raw optical frame in the left one (the /tf_static transform)."""
        return invert_se3(self.T_right_left)

    @property
    def baseline_m(self) -> float:
        """Distance between the camera centres."""
        return float(np.linalg.norm(self.t_right_left))

    @property
    def light_position_left(self) -> Float:
        """(3,) position of the light (midpoint of the two camera centres) in the left optical frame."""
        return 0.5 * self.T_left_right[:3, 3]


def davinci_rig(width: int, height: int, baseline_m: float = 0.0041) -> StereoRig:
    """The SCARED-like rig scaled to ``width`` x ``height`` with a baseline of ``baseline_m``."""
    full_w, full_h = FULL_SIZE
    left = PinholeCamera(full_w, full_h, LEFT_K_FULL, LEFT_D).scaled(width, height)
    right = PinholeCamera(full_w, full_h, RIGHT_K_FULL, RIGHT_D).scaled(width, height)
    R = rotation_about_axis(RELATIVE_ROTATION_AXIS, np.deg2rad(RELATIVE_ROTATION_DEG))
    centre = baseline_m * RIGHT_CENTRE_DIRECTION / np.linalg.norm(RIGHT_CENTRE_DIRECTION)
    t = -R @ centre
    calibration = StereoCalibration.from_rig(left, right, R, t)
    return StereoRig(left, right, R, t, calibration)
