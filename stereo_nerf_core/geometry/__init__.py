"""Cameras, stereo rigs and rigid transforms (numpy, metres, OpenCV/ROS optical frames)."""

from stereo_nerf_core.geometry.camera import PinholeCamera, StereoCalibration
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.transforms import (
    invert_se3,
    make_se3,
    matrix_to_quaternion,
    quaternion_to_matrix,
    rotation_about_axis,
)

__all__ = [
    "GeometryError",
    "PinholeCamera",
    "StereoCalibration",
    "invert_se3",
    "make_se3",
    "matrix_to_quaternion",
    "quaternion_to_matrix",
    "rotation_about_axis",
]
