from typing import Any

import numpy as np
import pytest

from stereo_nerf_core.geometry import make_se3, rotation_about_axis
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES, TYPESTORE
from stereo_nerf_core.io.cdr import cdr_header, with_stamp
from stereo_nerf_core.io.errors import CameraInfoError, EncodingError, MessageError
from stereo_nerf_core.io.messages import (
    array_to_image,
    camera_info_to_view,
    image_to_array,
    image_to_rgb,
    matrix_to_pose_stamped,
    matrix_to_tf,
    pose_to_matrix,
    stamp_ns,
    transform_to_matrix,
    view_to_camera_info,
)

STAMP = 1_700_000_000_123_456_789


def _through_cdr(msg: Any) -> Any:
    kind = msg.__msgtype__
    return TYPESTORE.deserialize_cdr(TYPESTORE.serialize_cdr(msg, kind), kind)


@pytest.mark.parametrize(
    ("encoding", "array"),
    [
        ("rgb8", np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)),
        ("bgr8", np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)),
        ("mono8", np.arange(20, dtype=np.uint8).reshape(4, 5)),
        ("mono16", np.arange(20, dtype=np.uint16).reshape(4, 5) * 1000),
        ("32FC1", np.linspace(0.04, 0.15, 20, dtype=np.float32).reshape(4, 5)),
    ],
)
def test_image_round_trip_through_cdr(encoding: str, array: np.ndarray) -> None:
    msg = array_to_image(ROSBAGS_CLASSES, array, encoding=encoding, stamp_ns=STAMP, frame_id="cam")
    back = _through_cdr(msg)
    assert stamp_ns(back.header) == STAMP
    np.testing.assert_array_equal(image_to_array(back), array)


def test_bgr_is_returned_as_rgb_and_row_padding_is_skipped() -> None:
    bgr = np.zeros((2, 3, 3), np.uint8)
    bgr[..., 0] = 200  # blue
    msg = array_to_image(ROSBAGS_CLASSES, bgr, encoding="bgr8", stamp_ns=0, frame_id="cam")
    assert image_to_rgb(msg)[0, 0].tolist() == [0, 0, 200]
    padded = np.zeros((2, 12), np.uint8)  # step 12 > 9 bytes of pixels per row
    padded[:, :9] = bgr.reshape(2, 9)
    msg.step, msg.data = 12, padded.ravel()
    assert image_to_rgb(msg)[1, 2].tolist() == [0, 0, 200]


def test_big_endian_depth_is_read_correctly() -> None:
    depth = np.array([[0.05, 0.1]], dtype=np.float32)
    msg = array_to_image(ROSBAGS_CLASSES, depth, encoding="32FC1", stamp_ns=0, frame_id="cam")
    msg.is_bigendian, msg.data = 1, np.frombuffer(depth.astype(">f4").tobytes(), np.uint8)
    np.testing.assert_array_equal(image_to_array(msg), depth)


def test_bad_images_name_the_problem() -> None:
    msg = array_to_image(ROSBAGS_CLASSES, np.zeros((4, 4), np.uint8), encoding="mono8", stamp_ns=0, frame_id="c")
    msg.data = msg.data[:10]
    with pytest.raises(MessageError, match="needs step >= 4 and 16 bytes"):
        image_to_array(msg)
    msg.encoding = "yuv422_weird"
    with pytest.raises(MessageError, match="unsupported image encoding 'yuv422_weird'"):
        image_to_array(msg)
    with pytest.raises(MessageError, match=r"rgb8 needs an array \(H, W, 3\)"):
        array_to_image(ROSBAGS_CLASSES, np.zeros((4, 4), np.uint8), encoding="rgb8", stamp_ns=0, frame_id="c")


def test_camera_info_round_trip_keeps_the_rig(small_rig: StereoCalibration) -> None:
    for view in (small_rig.left, small_rig.right):
        msg = _through_cdr(view_to_camera_info(ROSBAGS_CLASSES, view, stamp_ns=STAMP, frame_id="cam"))
        back = camera_info_to_view(msg, topic="/stereo/right/camera_info")
        np.testing.assert_allclose(back.P, view.P)
        np.testing.assert_allclose(back.R, view.R)
        np.testing.assert_allclose(back.camera.D, view.camera.D)
    right = camera_info_to_view(view_to_camera_info(ROSBAGS_CLASSES, small_rig.right, stamp_ns=0, frame_id="c"))
    assert -right.P[0, 3] / right.P[0, 0] == pytest.approx(small_rig.baseline_m, rel=1e-12)


def test_uncalibrated_camera_info_names_the_topic(small_rig: StereoCalibration) -> None:
    msg = view_to_camera_info(ROSBAGS_CLASSES, small_rig.left, stamp_ns=0, frame_id="cam")
    msg.k = np.zeros(9)
    with pytest.raises(MessageError, match="/stereo/left/camera_info: camera is uncalibrated"):
        camera_info_to_view(msg, topic="/stereo/left/camera_info")


@pytest.mark.parametrize(
    ("field", "index", "value", "expected"),
    [
        ("k", 0, float("nan"), r"K holds NaN or infinite values"),
        ("p", 5, float("nan"), r"P holds NaN or infinite values"),
        ("p", 0, 0.0, r"P has no focal length \(fx=0.0"),
        ("k", 4, -1.0, r"K has no focal length"),
    ],
)
def test_camera_info_with_zeros_or_nan_is_refused_by_cause_and_topic(
    small_rig: StereoCalibration, field: str, index: int, value: float, expected: str
) -> None:
    msg = view_to_camera_info(ROSBAGS_CLASSES, small_rig.left, stamp_ns=0, frame_id="cam")
    values = np.array(getattr(msg, field), dtype=np.float64)
    values[index] = value
    setattr(msg, field, values)
    with pytest.raises(CameraInfoError, match=f"/cam/info: {expected}") as raised:
        camera_info_to_view(msg, topic="/cam/info")
    assert raised.value.topic == "/cam/info" and raised.value.cause == "invalid camera_info"
    msg.p = np.zeros(12)
    msg.k = np.asarray(view_to_camera_info(ROSBAGS_CLASSES, small_rig.left, stamp_ns=0, frame_id="c").k)
    with pytest.raises(CameraInfoError, match="P has no focal length"):
        camera_info_to_view(msg, topic="/cam/info")


def test_an_unknown_encoding_is_an_encoding_error_naming_the_topic() -> None:
    msg = array_to_image(ROSBAGS_CLASSES, np.zeros((4, 4), np.uint8), encoding="mono8", stamp_ns=0, frame_id="c")
    msg.encoding = "yuv422_weird"
    with pytest.raises(EncodingError, match="/cam/image: unsupported image encoding") as raised:
        image_to_array(msg, topic="/cam/image")
    assert (raised.value.topic, raised.value.cause) == ("/cam/image", "unknown encoding")


def test_pose_and_tf_round_trip() -> None:
    T = make_se3(rotation_about_axis([0.2, 1, -0.3], 0.4), [0.01, 0.02, -0.03])
    pose = _through_cdr(matrix_to_pose_stamped(ROSBAGS_CLASSES, T, stamp_ns=STAMP, frame_id="world"))
    np.testing.assert_allclose(pose_to_matrix(pose.pose), T, atol=1e-12)
    tf = _through_cdr(matrix_to_tf(ROSBAGS_CLASSES, T, stamp_ns=STAMP, parent="world", child="cam"))
    (stamped,) = tf.transforms
    assert (stamped.header.frame_id, stamped.child_frame_id) == ("world", "cam")
    np.testing.assert_allclose(transform_to_matrix(stamped.transform), T, atol=1e-12)


def test_with_stamp_rewrites_only_the_header_stamp(small_rig: StereoCalibration) -> None:
    msg = view_to_camera_info(ROSBAGS_CLASSES, small_rig.left, stamp_ns=STAMP, frame_id="cam")
    kind = msg.__msgtype__
    data = bytes(TYPESTORE.serialize_cdr(msg, kind))
    moved = with_stamp(data, 3_000_000_007)
    assert cdr_header(moved) == (3_000_000_007, "cam") and len(moved) == len(data)
    back: Any = TYPESTORE.deserialize_cdr(moved, kind)
    np.testing.assert_array_equal(back.p, msg.p)
    assert with_stamp(moved, STAMP) == data
    with pytest.raises(MessageError, match="not a CDR message"):
        with_stamp(b"\x05\x05" + data[2:], 1)
