"""The rclpy counterpart of :meth:`MessageClasses.from_typestore`: message classes the nodes build with.

rclpy's generated setters accept ``array.array`` for ``uint8[]`` and ``float64[]`` sequences
(numpy arrays are accepted only for fixed-size arrays such as CameraInfo's ``k``/``r``/``p``),
so the array factories produce ``array.array`` objects. rclpy is imported only inside
:func:`rclpy_message_classes`, so this module imports without ROS.

``tf2_msgs`` is optional: where it is not installed (the PyPI wheels have no tf2_msgs), ``TFMessage``
is None, :func:`tf_unavailable` says why, and the nodes publish everything but /tf and /tf_static.
"""

from __future__ import annotations

import array
import importlib
from functools import cache
from typing import Any

import numpy as np

from stereo_nerf_core.io.messages import MessageClasses

TF_PACKAGE = "tf2_msgs"


def uint8_array(data: bytes) -> array.array[int]:
    """Bytes as the ``array.array('B')`` rclpy stores ``uint8[]`` fields in (no per-element checks)."""
    return array.array("B", data)


def float64_array(values: Any) -> array.array[float]:
    """Numbers (any array-like) as the ``array.array('d')`` rclpy stores ``float64[]`` fields in."""
    return array.array("d", np.ascontiguousarray(values, dtype=np.float64).reshape(-1).tobytes())


@cache
def tf_unavailable() -> str | None:
    """Why /tf and /tf_static cannot be used over ROS here (``tf2_msgs`` missing), or None when they can."""
    try:
        importlib.import_module(f"{TF_PACKAGE}.msg")
    except ImportError as error:
        return f"the ROS package {TF_PACKAGE} is not installed ({error})"
    return None


def rclpy_message_classes() -> MessageClasses:
    """Message classes of the sourced ROS 2 installation (needs rclpy's message packages; tf2_msgs optional)."""
    from builtin_interfaces.msg import Duration, Time
    from geometry_msgs.msg import Point, Pose, PoseStamped, Quaternion, Transform, TransformStamped, Vector3
    from nav_msgs.msg import Path
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2, PointField, RegionOfInterest
    from std_msgs.msg import ColorRGBA, Header
    from visualization_msgs.msg import Marker, MeshFile

    tf_message = None if tf_unavailable() else importlib.import_module(f"{TF_PACKAGE}.msg").TFMessage
    return MessageClasses(
        Time=Time,
        Header=Header,
        Image=Image,
        CameraInfo=CameraInfo,
        RegionOfInterest=RegionOfInterest,
        PoseStamped=PoseStamped,
        Pose=Pose,
        Point=Point,
        Quaternion=Quaternion,
        TransformStamped=TransformStamped,
        Transform=Transform,
        Vector3=Vector3,
        TFMessage=tf_message,
        CompressedImage=CompressedImage,
        PointCloud2=PointCloud2,
        PointField=PointField,
        Path=Path,
        Marker=Marker,
        MeshFile=MeshFile,
        ColorRGBA=ColorRGBA,
        Duration=Duration,
        uint8_array=uint8_array,
        float64_array=float64_array,
    )
