"""The depth_prior node's ROS-free path: input conversion, processing, output messages, CDR round trips."""

from __future__ import annotations

import array
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from stereo_nerf_ros.depth_prior import (
    CONFIDENCE_TOPIC,
    DEPTH_TOPIC,
    LEFT_RECT_CAMERA_INFO_TOPIC,
    LEFT_RECT_IMAGE_TOPIC,
    LEFT_RECT_OPTICAL_FRAME,
    OUTPUT_TOPICS,
    StereoMessages,
    depth_image_array,
    depth_outputs,
    process_stereo_messages,
    rectification_transform,
    rectified_left_view,
)
from stereo_nerf_ros.ros_messages import float64_array, rclpy_message_classes, uint8_array

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, StereoCalibration
from stereo_nerf_core.geometry.transforms import make_se3, rotation_about_axis
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES, TYPESTORE
from stereo_nerf_core.io.errors import MessageError
from stereo_nerf_core.io.messages import (
    MessageClasses,
    array_to_image,
    camera_info_to_view,
    image_to_array,
    image_to_rgb,
    transform_to_matrix,
    view_to_camera_info,
)
from stereo_nerf_core.pipeline.stages import RectifiedDepth, StereoDepthStage

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 128, 96
FX, BASELINE_M, SHIFT_PX = 100.0, 0.005, 8
STAMP_NS = 1_700_000_123_456_789_012


def _rectified_pair() -> StereoCalibration:
    """An ideal rig: identical undistorted cameras, already row-aligned (R = I)."""
    K = np.array([[FX, 0.0, WIDTH / 2], [0.0, FX, HEIGHT / 2], [0.0, 0.0, 1.0]])
    P_left = np.hstack([K, np.zeros((3, 1))])
    P_right = np.hstack([K, [[-FX * BASELINE_M], [0.0], [0.0]]])
    camera = PinholeCamera(WIDTH, HEIGHT, K)
    return StereoCalibration(RectifiedView(camera, np.eye(3), P_left), RectifiedView(camera, np.eye(3), P_right))


def _textured_pair() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """A random texture on a fronto-parallel plane: the right image is the left one shifted by SHIFT_PX."""
    rng = np.random.default_rng(7)
    coarse = rng.integers(0, 256, size=(HEIGHT // 2, WIDTH // 2 + SHIFT_PX, 3), dtype=np.uint8)
    wide = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)
    left = np.ascontiguousarray(wide[:, :WIDTH])
    right = np.ascontiguousarray(wide[:, SHIFT_PX : SHIFT_PX + WIDTH])
    return left, right


def _stereo_messages(calibration: StereoCalibration, *, frame_id: str = topics.LEFT_OPTICAL_FRAME) -> StereoMessages:
    left, right = _textured_pair()
    classes = ROSBAGS_CLASSES
    return StereoMessages(
        left_image=array_to_image(classes, left, encoding="rgb8", stamp_ns=STAMP_NS, frame_id=frame_id),
        right_image=array_to_image(
            classes, right[:, :, ::-1].copy(), encoding="bgr8", stamp_ns=STAMP_NS + 1000, frame_id="right"
        ),
        left_info=view_to_camera_info(classes, calibration.left, stamp_ns=STAMP_NS, frame_id=frame_id),
        right_info=view_to_camera_info(classes, calibration.right, stamp_ns=STAMP_NS, frame_id="right"),
    )


@pytest.fixture(scope="module")
def processed() -> RectifiedDepth:
    stage = StereoDepthStage(DepthPriorConfig())
    converted, result = process_stereo_messages(stage, _stereo_messages(_rectified_pair()))
    assert converted.stamp_ns == STAMP_NS
    assert converted.raw_frame_id == topics.LEFT_OPTICAL_FRAME
    return result


def _round_trip(msg: Any) -> Any:
    return TYPESTORE.deserialize_cdr(TYPESTORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def _stamp(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def test_processing_recovers_the_plane_depth(processed: RectifiedDepth) -> None:
    depth = processed.prior.depth
    assert depth.shape == (HEIGHT, WIDTH)
    valid = depth > 0
    assert valid.mean() > 0.5
    assert np.median(depth[valid]) == pytest.approx(FX * BASELINE_M / SHIFT_PX, rel=0.02)


def test_outputs_are_the_documented_topics(processed: RectifiedDepth) -> None:
    outputs = depth_outputs(processed, ROSBAGS_CLASSES, STAMP_NS)
    assert tuple(outputs) == OUTPUT_TOPICS
    assert all(topic.startswith("~/") for topic in outputs)
    for topic, msg in outputs.items():
        assert _stamp(msg) == STAMP_NS
        expected = "stereo_right_rect_optical_frame" if topic == "~/right/camera_info" else LEFT_RECT_OPTICAL_FRAME
        assert msg.header.frame_id == expected, topic


def test_mask_marks_usable_pixels(processed: RectifiedDepth) -> None:
    from stereo_nerf_core.frontend.masks import background_mask, specular_mask

    mask = image_to_array(depth_outputs(processed, ROSBAGS_CLASSES, STAMP_NS)["~/mask"])
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    excluded = specular_mask(processed.left) | background_mask(processed.left)
    np.testing.assert_array_equal(mask == 0, excluded)
    assert 0.5 < (mask == 255).mean() < 1.0  # random texture: some near-white and near-black pixels


def test_right_camera_info_carries_the_baseline(processed: RectifiedDepth) -> None:
    info = depth_outputs(processed, ROSBAGS_CLASSES, STAMP_NS)["~/right/camera_info"]
    P = np.asarray(info.p).reshape(3, 4)
    assert -P[0, 3] / P[0, 0] == pytest.approx(BASELINE_M)
    assert np.asarray(info.r).reshape(3, 3).tolist() == np.eye(3).tolist()


def test_depth_image_is_32fc1_metres_with_nan_for_none(processed: RectifiedDepth) -> None:
    msg = depth_outputs(processed, ROSBAGS_CLASSES, STAMP_NS)[DEPTH_TOPIC]
    assert msg.__msgtype__ == "sensor_msgs/msg/Image"
    assert (msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian) == ("32FC1", HEIGHT, WIDTH, WIDTH * 4, 0)
    assert len(msg.data) == HEIGHT * WIDTH * 4
    back = _round_trip(msg)
    assert _stamp(back) == STAMP_NS and back.header.frame_id == LEFT_RECT_OPTICAL_FRAME
    depth = image_to_array(back)
    assert depth.dtype == np.float32
    prior = processed.prior.depth
    np.testing.assert_array_equal(np.isnan(depth), prior <= 0)
    np.testing.assert_array_equal(depth[prior > 0], prior[prior > 0])


def test_confidence_image(processed: RectifiedDepth) -> None:
    msg = depth_outputs(processed, ROSBAGS_CLASSES, STAMP_NS)[CONFIDENCE_TOPIC]
    assert (msg.encoding, msg.height, msg.width) == ("32FC1", HEIGHT, WIDTH)
    confidence = image_to_array(_round_trip(msg))
    np.testing.assert_array_equal(confidence, processed.prior.confidence)
    assert np.all((confidence >= 0) & (confidence <= 1))


def test_rectified_left_image(processed: RectifiedDepth) -> None:
    msg = depth_outputs(processed, ROSBAGS_CLASSES, STAMP_NS)[LEFT_RECT_IMAGE_TOPIC]
    assert (msg.encoding, msg.height, msg.width, msg.step) == ("rgb8", HEIGHT, WIDTH, WIDTH * 3)
    np.testing.assert_array_equal(image_to_rgb(_round_trip(msg)), processed.left)


def test_rectified_camera_info(processed: RectifiedDepth) -> None:
    msg = depth_outputs(processed, ROSBAGS_CLASSES, STAMP_NS)[LEFT_RECT_CAMERA_INFO_TOPIC]
    back = _round_trip(msg)
    assert back.__msgtype__ == "sensor_msgs/msg/CameraInfo"
    assert (back.width, back.height, back.distortion_model) == (WIDTH, HEIGHT, "plumb_bob")
    P = processed.calibration.left.P
    np.testing.assert_array_equal(np.asarray(back.k).reshape(3, 3), P[:, :3])
    np.testing.assert_array_equal(np.asarray(back.d), np.zeros(5))
    np.testing.assert_array_equal(np.asarray(back.r).reshape(3, 3), np.eye(3))
    np.testing.assert_array_equal(np.asarray(back.p).reshape(3, 4), P)
    view = camera_info_to_view(back)
    assert view.camera.size == (WIDTH, HEIGHT)


def test_rectified_view_of_a_rotated_rig() -> None:
    K = np.array([[200.0, 0, 64], [0, 200.0, 48], [0, 0, 1]])
    left = PinholeCamera(WIDTH, HEIGHT, K, np.array([0.05, -0.01, 0, 0, 0]))
    right = PinholeCamera(WIDTH, HEIGHT, K, np.array([0.04, 0.0, 0, 0, 0]))
    calibration = StereoCalibration.from_rig(left, right, rotation_about_axis([0, 1, 0], 0.05), [-0.005, 0.0002, 0])
    view = rectified_left_view(calibration)
    np.testing.assert_array_equal(view.camera.K, calibration.left.P[:, :3])
    np.testing.assert_array_equal(view.R, np.eye(3))
    assert not np.any(view.camera.D)


def test_rectification_transform_maps_rectified_to_raw() -> None:
    K = np.array([[200.0, 0, 64], [0, 200.0, 48], [0, 0, 1]])
    camera = PinholeCamera(WIDTH, HEIGHT, K)
    calibration = StereoCalibration.from_rig(camera, camera, rotation_about_axis([0, 1, 0], 0.05), [-0.005, 0, 0])
    msg = _round_trip(rectification_transform(calibration, ROSBAGS_CLASSES, STAMP_NS, raw_frame_id="endoscope_left"))
    assert msg.__msgtype__ == "tf2_msgs/msg/TFMessage"
    (stamped,) = msg.transforms
    assert (stamped.header.frame_id, stamped.child_frame_id) == ("endoscope_left", LEFT_RECT_OPTICAL_FRAME)
    T_raw_rect = transform_to_matrix(stamped.transform)
    np.testing.assert_allclose(T_raw_rect, make_se3(calibration.left.R.T, np.zeros(3)), atol=1e-12)
    point_rect = np.array([0.01, -0.02, 0.1, 1.0])
    np.testing.assert_allclose(calibration.left.R @ (T_raw_rect @ point_rect)[:3], point_rect[:3], atol=1e-12)


def test_depth_image_array_marks_missing_depth_nan() -> None:
    depth = np.array([[0.0, 0.05], [np.inf, -1.0]], dtype=np.float32)
    out = depth_image_array(depth)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(out), [[True, False], [True, True]])
    assert out[0, 1] == np.float32(0.05)


def test_conversion_errors_name_the_topic() -> None:
    calibration = _rectified_pair()
    stage = StereoDepthStage(DepthPriorConfig())
    good = _stereo_messages(calibration)
    names = ("/cam/left", "/cam/right", "/cam/left/info", "/cam/right/info")

    mono16 = array_to_image(
        ROSBAGS_CLASSES, np.zeros((HEIGHT, WIDTH), np.uint16), encoding="mono16", stamp_ns=STAMP_NS, frame_id="x"
    )
    with pytest.raises(MessageError, match="/cam/right"):
        process_stereo_messages(stage, StereoMessages(good.left_image, mono16, good.left_info, good.right_info), names)

    uncalibrated = view_to_camera_info(ROSBAGS_CLASSES, calibration.left, stamp_ns=STAMP_NS, frame_id="x")
    uncalibrated.k = np.zeros(9)
    with pytest.raises(MessageError, match="/cam/left/info"):
        process_stereo_messages(
            stage, StereoMessages(good.left_image, good.right_image, uncalibrated, good.right_info), names
        )


def test_empty_frame_id_falls_back_to_the_left_optical_frame() -> None:
    stage = StereoDepthStage(DepthPriorConfig())
    converted, _ = process_stereo_messages(stage, _stereo_messages(_rectified_pair(), frame_id=""))
    assert converted.raw_frame_id == topics.LEFT_OPTICAL_FRAME


# --- the rclpy message classes, checked with stand-in message modules ---


def test_array_factories_build_what_rclpy_setters_accept() -> None:
    data = uint8_array(b"\x00\x01\xff")
    assert isinstance(data, array.array) and data.typecode == "B" and list(data) == [0, 1, 255]
    values = float64_array(np.array([[1.5, -2.0], [0.0, 3.25]]))
    assert isinstance(values, array.array) and values.typecode == "d" and list(values) == [1.5, -2.0, 0.0, 3.25]
    assert list(float64_array([1, 2])) == [1.0, 2.0]


def _fake_message_modules() -> dict[str, ModuleType]:
    layout = {
        "builtin_interfaces.msg": ("Duration", "Time"),
        "geometry_msgs.msg": ("Point", "Pose", "PoseStamped", "Quaternion", "Transform", "TransformStamped", "Vector3"),
        "nav_msgs.msg": ("Path",),
        "sensor_msgs.msg": ("CameraInfo", "CompressedImage", "Image", "PointCloud2", "PointField", "RegionOfInterest"),
        "std_msgs.msg": ("ColorRGBA", "Header"),
        "tf2_msgs.msg": ("TFMessage",),
        "visualization_msgs.msg": ("Marker", "MeshFile"),
    }
    modules: dict[str, ModuleType] = {}
    for name, classes in layout.items():
        modules[name.split(".")[0]] = ModuleType(name.split(".")[0])
        module = ModuleType(name)
        for cls in classes:
            setattr(module, cls, type(cls, (SimpleNamespace,), {}))
        modules[name] = module
    return modules


def test_rclpy_message_classes_with_stand_in_modules(
    monkeypatch: pytest.MonkeyPatch, processed: RectifiedDepth
) -> None:
    modules = _fake_message_modules()
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    classes = rclpy_message_classes()
    assert isinstance(classes, MessageClasses)
    assert classes.Image is modules["sensor_msgs.msg"].Image
    assert classes.TFMessage is modules["tf2_msgs.msg"].TFMessage
    outputs = depth_outputs(processed, classes, STAMP_NS)
    depth = outputs[DEPTH_TOPIC]
    assert type(depth).__name__ == "Image"
    assert isinstance(depth.data, array.array) and depth.data.typecode == "B"
    assert len(depth.data) == HEIGHT * WIDTH * 4
    np.testing.assert_array_equal(image_to_array(depth), depth_image_array(processed.prior.depth))
    info = outputs[LEFT_RECT_CAMERA_INFO_TOPIC]
    assert isinstance(info.d, array.array) and info.d.typecode == "d" and list(info.d) == [0.0] * 5
    # fixed-size arrays stay numpy float64 of the right size (rclpy accepts those)
    for field, size in (("k", 9), ("r", 9), ("p", 12)):
        value = getattr(info, field)
        assert isinstance(value, np.ndarray) and value.dtype == np.float64 and value.size == size
    assert (info.header.stamp.sec, info.header.stamp.nanosec) == divmod(STAMP_NS, 1_000_000_000)


def test_ros_free_modules_import_without_rclpy_or_torch() -> None:
    code = (
        "import sys\n"
        "import stereo_nerf_ros.depth_prior, stereo_nerf_ros.parameters, stereo_nerf_ros.ros_messages\n"
        "import stereo_nerf_ros.node_specs, stereo_nerf_core.pipeline.graph\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'rclpy', 'torch', 'open3d', 'kornia'})\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
