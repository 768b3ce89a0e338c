"""Conversion between numpy arrays / library types and ROS 2 messages, without ROS.

Every function works on any message classes with ROS 2 field names: rosbags' generated classes in
the core and tests, rclpy's in the nodes. :class:`MessageClasses` names the classes to build with.
Stamps are integer nanoseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.transforms import make_se3, matrix_to_quaternion, quaternion_to_matrix
from stereo_nerf_core.io.errors import CameraInfoError, EncodingError, ImageSizeError, MessageError

# encoding -> (numpy dtype, channels)
IMAGE_ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("uint8", 3),
    "bgr8": ("uint8", 3),
    "rgba8": ("uint8", 4),
    "bgra8": ("uint8", 4),
    "mono8": ("uint8", 1),
    "8UC1": ("uint8", 1),
    "8UC3": ("uint8", 3),
    "mono16": ("uint16", 1),
    "16UC1": ("uint16", 1),
    "32FC1": ("float32", 1),
    "64FC1": ("float64", 1),
}


@dataclass(frozen=True)
class MessageClasses:
    """The message classes conversions build (rosbags' or rclpy's) and how their arrays are made."""

    Time: Any
    Header: Any
    Image: Any
    CameraInfo: Any
    RegionOfInterest: Any
    PoseStamped: Any
    Pose: Any
    Point: Any
    Quaternion: Any
    TransformStamped: Any
    Transform: Any
    Vector3: Any
    TFMessage: Any
    CompressedImage: Any
    PointCloud2: Any
    PointField: Any
    Path: Any
    Marker: Any
    MeshFile: Any
    ColorRGBA: Any
    Duration: Any
    uint8_array: Callable[[bytes], Any] = lambda data: np.frombuffer(data, dtype=np.uint8)
    float64_array: Callable[[NDArray[np.float64]], Any] = lambda values: np.asarray(values, np.float64)

    @classmethod
    def from_typestore(cls, typestore: Any) -> MessageClasses:
        """Classes of a rosbags typestore (for example ``get_typestore(Stores.ROS2_JAZZY)``)."""
        types = typestore.types
        return cls(
            Time=types["builtin_interfaces/msg/Time"],
            Header=types["std_msgs/msg/Header"],
            Image=types["sensor_msgs/msg/Image"],
            CameraInfo=types["sensor_msgs/msg/CameraInfo"],
            RegionOfInterest=types["sensor_msgs/msg/RegionOfInterest"],
            PoseStamped=types["geometry_msgs/msg/PoseStamped"],
            Pose=types["geometry_msgs/msg/Pose"],
            Point=types["geometry_msgs/msg/Point"],
            Quaternion=types["geometry_msgs/msg/Quaternion"],
            TransformStamped=types["geometry_msgs/msg/TransformStamped"],
            Transform=types["geometry_msgs/msg/Transform"],
            Vector3=types["geometry_msgs/msg/Vector3"],
            TFMessage=types["tf2_msgs/msg/TFMessage"],
            CompressedImage=types["sensor_msgs/msg/CompressedImage"],
            PointCloud2=types["sensor_msgs/msg/PointCloud2"],
            PointField=types["sensor_msgs/msg/PointField"],
            Path=types["nav_msgs/msg/Path"],
            Marker=types["visualization_msgs/msg/Marker"],
            MeshFile=types["visualization_msgs/msg/MeshFile"],
            ColorRGBA=types["std_msgs/msg/ColorRGBA"],
            Duration=types["builtin_interfaces/msg/Duration"],
        )

    def header(self, stamp_ns: int, frame_id: str) -> Any:
        """A std_msgs/Header for a stamp in nanoseconds."""
        sec, nanosec = divmod(int(stamp_ns), 1_000_000_000)
        return self.Header(stamp=self.Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def stamp_ns(header: Any) -> int:
    """Nanoseconds of a message header's stamp."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def image_to_array(msg: Any, *, topic: str | None = None) -> NDArray[Any]:
    """Pixels of a sensor_msgs/Image as (H, W) or (H, W, C), in the message's own channel order.

    Rows may be padded (``step`` larger than the pixels' bytes) and big-endian; ``topic`` names the
    message in errors.
    """
    prefix = f"{topic}: " if topic else ""
    encoding = str(msg.encoding)
    if encoding not in IMAGE_ENCODINGS:
        raise EncodingError(
            f"{prefix}unsupported image encoding {encoding!r}; supported: {sorted(IMAGE_ENCODINGS)}", topic=topic
        )
    dtype_name, channels = IMAGE_ENCODINGS[encoding]
    dtype = np.dtype(dtype_name).newbyteorder(">" if msg.is_bigendian else "<")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row_bytes = width * channels * dtype.itemsize
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    if height == 0 or width == 0:
        raise MessageError(f"{prefix}{encoding} image has an empty size {width}x{height}")
    if step < row_bytes or data.size < step * height:
        raise MessageError(
            f"{prefix}{encoding} image {width}x{height} needs step >= {row_bytes} and {row_bytes * height} bytes, "
            f"got step {step} and {data.size} bytes"
        )
    rows = data[: step * height].reshape(height, step)[:, :row_bytes]
    pixels = np.ascontiguousarray(rows).view(dtype).reshape(height, width, channels)
    pixels = pixels.astype(dtype.newbyteorder("="), copy=False)
    return pixels[:, :, 0] if channels == 1 else pixels


def image_to_rgb(msg: Any, *, topic: str | None = None) -> NDArray[np.uint8]:
    """A colour or mono8 sensor_msgs/Image as RGB uint8 (H, W, 3); ``topic`` names it in errors."""
    pixels = image_to_array(msg, topic=topic)
    encoding = str(msg.encoding)
    if pixels.dtype != np.uint8:
        prefix = f"{topic}: " if topic else ""
        raise EncodingError(f"{prefix}expected an 8-bit colour image, got encoding {encoding!r}", topic=topic)
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if encoding.startswith("bgr"):
        pixels = pixels[:, :, 2::-1]
    return np.ascontiguousarray(pixels[:, :, :3])


def array_to_image(
    classes: MessageClasses,
    pixels: NDArray[Any],
    *,
    encoding: str,
    stamp_ns: int,
    frame_id: str,
    is_bigendian: bool = False,
    step: int | None = None,
) -> Any:
    """A sensor_msgs/Image from an array already in ``encoding``'s layout.

    Little-endian with packed rows by default; ``is_bigendian`` and a ``step`` longer than a row
    (zero padding at each row's end) write what some drivers send.
    """
    if encoding not in IMAGE_ENCODINGS:
        raise MessageError(f"unsupported image encoding {encoding!r}; supported: {sorted(IMAGE_ENCODINGS)}")
    dtype_name, channels = IMAGE_ENCODINGS[encoding]
    array = np.asarray(pixels)
    expected_ndim = 2 if channels == 1 else 3
    if array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels):
        layout = "(H, W)" if channels == 1 else f"(H, W, {channels})"
        raise MessageError(f"{encoding} needs an array {layout}, got {array.shape}")
    if array.dtype != np.dtype(dtype_name):
        raise MessageError(f"{encoding} needs dtype {dtype_name}, got {array.dtype}")
    data = np.ascontiguousarray(array.astype(array.dtype.newbyteorder(">" if is_bigendian else "<"), copy=False))
    row_bytes = int(array.shape[1] * channels * array.dtype.itemsize)
    row_step = row_bytes if step is None else int(step)
    if row_step < row_bytes:
        raise MessageError(f"{encoding} image {array.shape[1]} px wide needs step >= {row_bytes}, got {row_step}")
    rows = data.view(np.uint8).reshape(array.shape[0], row_bytes)
    if row_step > row_bytes:
        rows = np.hstack([rows, np.zeros((array.shape[0], row_step - row_bytes), np.uint8)])
    return classes.Image(
        header=classes.header(stamp_ns, frame_id),
        height=int(array.shape[0]),
        width=int(array.shape[1]),
        encoding=encoding,
        is_bigendian=int(is_bigendian),
        step=row_step,
        data=classes.uint8_array(np.ascontiguousarray(rows).tobytes()),
    )


def camera_info_to_view(msg: Any, *, topic: str = "camera_info") -> RectifiedView:
    """The camera model a sensor_msgs/CameraInfo describes; ``topic`` names it in errors."""
    K = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    P = np.asarray(msg.p, dtype=np.float64).reshape(3, 4)
    if not np.any(K):
        raise CameraInfoError(f"{topic}: camera is uncalibrated (K is all zeros)", topic=topic)
    for name, matrix in (("K", K), ("P", P)):
        if not np.all(np.isfinite(matrix)):
            raise CameraInfoError(f"{topic}: {name} holds NaN or infinite values: {matrix.tolist()}", topic=topic)
        if not (matrix[0, 0] > 0 and matrix[1, 1] > 0 and matrix[2, 2] != 0):
            raise CameraInfoError(
                f"{topic}: {name} has no focal length (fx={matrix[0, 0]}, fy={matrix[1, 1]}, "
                f"[2, 2]={matrix[2, 2]}); expected fx, fy > 0 and [2, 2] = 1",
                topic=topic,
            )
    model = str(msg.distortion_model)
    if model not in ("plumb_bob", "rational_polynomial", ""):
        raise CameraInfoError(
            f"{topic}: unsupported distortion model {model!r} (plumb_bob or rational_polynomial)", topic=topic
        )
    try:
        camera = PinholeCamera(int(msg.width), int(msg.height), K, np.asarray(msg.d, dtype=np.float64))
        return RectifiedView(camera, np.asarray(msg.r).reshape(3, 3), P)
    except GeometryError as error:
        raise CameraInfoError(f"{topic}: {error}", topic=topic) from error


def check_image_size(rgb: NDArray[np.uint8], size: tuple[int, int], topic: str, info_topic: str) -> None:
    """ImageSizeError naming both topics when an (H, W, 3) image is not ``size`` = (width, height)."""
    if rgb.shape[1::-1] != tuple(size):
        raise ImageSizeError(
            f"{topic}: image is {rgb.shape[1]}x{rgb.shape[0]} but {info_topic} says {size[0]}x{size[1]}", topic=topic
        )


def view_to_camera_info(classes: MessageClasses, view: RectifiedView, *, stamp_ns: int, frame_id: str) -> Any:
    """A sensor_msgs/CameraInfo for one camera of a calibrated pair."""
    camera = view.camera
    return classes.CameraInfo(
        header=classes.header(stamp_ns, frame_id),
        height=camera.height,
        width=camera.width,
        distortion_model="plumb_bob" if camera.D.size == 5 else "rational_polynomial",
        d=classes.float64_array(camera.D),
        k=camera.K.reshape(9).astype(np.float64),
        r=view.R.reshape(9).astype(np.float64),
        p=view.P.reshape(12).astype(np.float64),
        binning_x=0,
        binning_y=0,
        roi=classes.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
    )


def pose_to_matrix(pose: Any) -> NDArray[np.float64]:
    """(4, 4) transform of a geometry_msgs/Pose."""
    p, q = pose.position, pose.orientation
    return make_se3(quaternion_to_matrix([q.x, q.y, q.z, q.w]), [p.x, p.y, p.z])


def transform_to_matrix(transform: Any) -> NDArray[np.float64]:
    """(4, 4) transform of a geometry_msgs/Transform."""
    t, q = transform.translation, transform.rotation
    return make_se3(quaternion_to_matrix([q.x, q.y, q.z, q.w]), [t.x, t.y, t.z])


def matrix_to_pose_stamped(classes: MessageClasses, T: NDArray[np.float64], *, stamp_ns: int, frame_id: str) -> Any:
    """A geometry_msgs/PoseStamped of a (4, 4) transform (the pose of a frame in ``frame_id``)."""
    x, y, z, w = matrix_to_quaternion(T[:3, :3])
    position = classes.Point(x=float(T[0, 3]), y=float(T[1, 3]), z=float(T[2, 3]))
    orientation = classes.Quaternion(x=float(x), y=float(y), z=float(z), w=float(w))
    return classes.PoseStamped(
        header=classes.header(stamp_ns, frame_id), pose=classes.Pose(position=position, orientation=orientation)
    )


def matrix_to_tf(classes: MessageClasses, T: NDArray[np.float64], *, stamp_ns: int, parent: str, child: str) -> Any:
    """A tf2_msgs/TFMessage holding one transform ``parent`` <- ``child``."""
    x, y, z, w = matrix_to_quaternion(T[:3, :3])
    transform = classes.Transform(
        translation=classes.Vector3(x=float(T[0, 3]), y=float(T[1, 3]), z=float(T[2, 3])),
        rotation=classes.Quaternion(x=float(x), y=float(y), z=float(z), w=float(w)),
    )
    stamped = classes.TransformStamped(
        header=classes.header(stamp_ns, parent), child_frame_id=child, transform=transform
    )
    return classes.TFMessage(transforms=[stamped])
