"""Round trips array -> message -> CDR bytes (rosbags, ROS 2 Jazzy) -> message -> array for every type and encoding."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stereo_nerf_core.geometry import make_se3, rotation_about_axis
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES as C
from stereo_nerf_core.io.bag import TYPESTORE
from stereo_nerf_core.io.errors import MessageError
from stereo_nerf_core.io.messages import IMAGE_ENCODINGS, array_to_image, image_to_array, image_to_rgb, stamp_ns
from stereo_nerf_core.io.ros_conversions.compressed import (
    any_image_to_rgb,
    array_to_compressed,
    compressed_to_array,
    compressed_to_rgb,
)
from stereo_nerf_core.io.ros_conversions.marker import TRIANGLE_LIST, marker_to_triangles, mesh_to_marker
from stereo_nerf_core.io.ros_conversions.point_cloud import (
    arrays_to_point_cloud,
    columns_to_point_cloud,
    pack_rgb,
    point_cloud_columns,
    point_cloud_to_arrays,
    unpack_rgb,
)
from stereo_nerf_core.io.ros_conversions.trajectory import (
    StampedTransform,
    path_to_poses,
    poses_to_path,
    tf_to_transforms,
    transforms_to_tf,
)

STAMP = 1_700_000_001_234_567_891
RNG = np.random.default_rng(7)


def _through_cdr(msg: Any) -> Any:
    kind = msg.__msgtype__
    return TYPESTORE.deserialize_cdr(TYPESTORE.serialize_cdr(msg, kind), kind)


def _pixels(encoding: str, height: int = 5, width: int = 7) -> np.ndarray:
    dtype, channels = IMAGE_ENCODINGS[encoding]
    shape = (height, width) if channels == 1 else (height, width, channels)
    if dtype.startswith("float"):
        return RNG.uniform(0.01, 0.3, size=shape).astype(dtype)
    return RNG.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("encoding", sorted(IMAGE_ENCODINGS))
@pytest.mark.parametrize(("bigendian", "padding"), [(False, 0), (True, 0), (False, 5), (True, 3)])
def test_image_every_encoding_endianness_and_padding(encoding: str, bigendian: bool, padding: int) -> None:
    array = _pixels(encoding)
    row = array.shape[1] * array.itemsize * (1 if array.ndim == 2 else array.shape[2])
    msg = array_to_image(
        C, array, encoding=encoding, stamp_ns=STAMP, frame_id="cam", is_bigendian=bigendian, step=row + padding
    )
    back = _through_cdr(msg)
    assert (back.step, bool(back.is_bigendian), back.encoding) == (row + padding, bigendian, encoding)
    assert len(back.data) == (row + padding) * array.shape[0]
    assert stamp_ns(back.header) == STAMP and back.header.frame_id == "cam"
    result = image_to_array(back)
    assert result.dtype == array.dtype
    np.testing.assert_array_equal(result, array)


def test_big_endian_bytes_are_really_swapped() -> None:
    msg = array_to_image(
        C, np.array([[1, 258]], np.uint16), encoding="mono16", stamp_ns=0, frame_id="c", is_bigendian=True
    )
    assert bytes(msg.data) == b"\x00\x01\x01\x02"


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("rgb8", [10, 20, 30]), ("bgr8", [30, 20, 10]), ("rgba8", [10, 20, 30]), ("bgra8", [30, 20, 10])],
)
def test_colour_encodings_give_rgb(encoding: str, expected: list[int]) -> None:
    channels = IMAGE_ENCODINGS[encoding][1]
    pixel = np.array([10, 20, 30, 255][:channels], np.uint8)
    msg = _through_cdr(array_to_image(C, np.tile(pixel, (2, 3, 1)), encoding=encoding, stamp_ns=0, frame_id="c"))
    assert image_to_rgb(msg)[1, 2].tolist() == expected


def test_image_errors_name_topic_and_encoding() -> None:
    msg = array_to_image(C, np.zeros((4, 4), np.uint16), encoding="16UC1", stamp_ns=0, frame_id="c")
    msg.data = msg.data[:20]
    with pytest.raises(MessageError, match=r"/stereo/left/image_raw: 16UC1 image 4x4 needs step >= 8 and 32 bytes"):
        image_to_array(msg, topic="/stereo/left/image_raw")
    with pytest.raises(MessageError, match="/x: expected an 8-bit colour image, got encoding '16UC1'"):
        image_to_rgb(
            array_to_image(C, np.zeros((2, 2), np.uint16), encoding="16UC1", stamp_ns=0, frame_id="c"), topic="/x"
        )
    with pytest.raises(MessageError, match="32FC1 needs dtype float32, got float64"):
        array_to_image(C, np.zeros((2, 2)), encoding="32FC1", stamp_ns=0, frame_id="c")
    with pytest.raises(MessageError, match="needs step >= 6, got 4"):
        array_to_image(C, np.zeros((2, 2, 3), np.uint8), encoding="rgb8", stamp_ns=0, frame_id="c", step=4)


# --- CompressedImage ---


def _smooth_rgb(height: int = 32, width: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([4 * x + 20, 6 * y + 10, 128 + 0 * x], axis=2).astype(np.uint8)


@pytest.mark.parametrize(
    "array",
    [_smooth_rgb(), RNG.integers(0, 256, (9, 11), dtype=np.uint8), RNG.integers(0, 65536, (9, 11)).astype(np.uint16)],
)
def test_png_is_lossless(array: np.ndarray) -> None:
    msg = _through_cdr(array_to_compressed(C, array, codec="png", stamp_ns=STAMP, frame_id="cam"))
    assert msg.format.startswith(("rgb8; png compressed bgr8", "mono8; png compressed mono8", "mono16; png"))
    assert stamp_ns(msg.header) == STAMP
    np.testing.assert_array_equal(compressed_to_array(msg), array)


def test_jpeg_round_trip_within_the_codec_error() -> None:
    rgb = _smooth_rgb()
    msg = _through_cdr(array_to_compressed(C, rgb, codec="jpeg", stamp_ns=STAMP, frame_id="cam", jpeg_quality=95))
    assert msg.format == "rgb8; jpeg compressed bgr8"
    back = compressed_to_rgb(msg)
    assert back.shape == rgb.shape
    # a smooth gradient at quality 95 (4:2:0 chroma): channel order kept and errors of a few grey levels
    error = np.abs(back.astype(int) - rgb)
    assert error.max() <= 6 and error.mean() < 1.5, (error.max(), error.mean())
    grey = compressed_to_rgb(_through_cdr(array_to_compressed(C, rgb[..., 1], codec="jpeg", stamp_ns=0, frame_id="c")))
    assert grey.shape == rgb.shape and np.abs(grey[..., 0].astype(int) - rgb[..., 1]).max() <= 4


def test_any_image_to_rgb_takes_both_kinds() -> None:
    rgb = _smooth_rgb(8, 8)
    raw = array_to_image(C, rgb, encoding="rgb8", stamp_ns=0, frame_id="c")
    png = array_to_compressed(C, rgb, codec="png", stamp_ns=0, frame_id="c")
    np.testing.assert_array_equal(any_image_to_rgb(_through_cdr(raw)), rgb)
    np.testing.assert_array_equal(any_image_to_rgb(_through_cdr(png)), rgb)


def test_compressed_errors_name_topic() -> None:
    msg = array_to_compressed(C, _smooth_rgb(8, 8), codec="png", stamp_ns=0, frame_id="c")
    msg.data = np.frombuffer(b"GIF89a" + bytes(20), np.uint8)
    with pytest.raises(MessageError, match=r"/stereo/left/image_raw/compressed: .*neither jpeg nor png"):
        compressed_to_rgb(msg, topic="/stereo/left/image_raw/compressed")
    with pytest.raises(MessageError, match="unsupported compression 'webp'"):
        array_to_compressed(C, _smooth_rgb(8, 8), codec="webp", stamp_ns=0, frame_id="c")
    with pytest.raises(MessageError, match="jpeg needs RGB uint8"):
        array_to_compressed(C, np.zeros((4, 4), np.uint16), codec="jpeg", stamp_ns=0, frame_id="c")
    truncated = array_to_compressed(C, _smooth_rgb(8, 8), codec="png", stamp_ns=0, frame_id="c")
    truncated.data = truncated.data[:12]
    with pytest.raises(MessageError, match=r"/t: compressed image .* cannot be decoded"):
        compressed_to_array(truncated, topic="/t")


# --- PointCloud2 ---


def test_rgb_packing_matches_the_pcl_convention() -> None:
    packed = pack_rgb(np.array([[255, 0, 0], [1, 2, 3]], np.uint8))
    assert packed.dtype == np.float32
    assert packed.view(np.uint32).tolist() == [0xFF0000, 0x010203]
    assert unpack_rgb(packed).tolist() == [[255, 0, 0], [1, 2, 3]]
    assert unpack_rgb(np.array([0x0A0B0C], np.uint32)).tolist() == [[10, 11, 12]]


def test_point_cloud_round_trip_with_colour() -> None:
    xyz = RNG.uniform(-0.1, 0.2, (50, 3)).astype(np.float32)
    rgb = RNG.integers(0, 256, (50, 3), dtype=np.uint8)
    msg = _through_cdr(arrays_to_point_cloud(C, xyz, rgb, stamp_ns=STAMP, frame_id="world"))
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == [
        ("x", 0, 7, 1),
        ("y", 4, 7, 1),
        ("z", 8, 7, 1),
        ("rgb", 12, 7, 1),
    ]
    assert (msg.height, msg.width, msg.point_step, msg.row_step, msg.is_dense) == (1, 50, 16, 800, True)
    back_xyz, back_rgb = point_cloud_to_arrays(msg)
    np.testing.assert_array_equal(back_xyz, xyz)
    assert back_rgb is not None
    np.testing.assert_array_equal(back_rgb, rgb)


def test_point_cloud_without_colour_and_empty() -> None:
    xyz = np.array([[0.0, 0.0, 0.1], [np.nan, 0.0, 0.0]], np.float32)
    msg = _through_cdr(arrays_to_point_cloud(C, xyz, None, stamp_ns=0, frame_id="f"))
    assert msg.point_step == 12 and msg.is_dense is False
    back, colours = point_cloud_to_arrays(msg)
    np.testing.assert_array_equal(back, xyz)
    assert colours is None
    empty, _ = point_cloud_to_arrays(
        _through_cdr(arrays_to_point_cloud(C, np.zeros((0, 3)), None, stamp_ns=0, frame_id="f"))
    )
    assert empty.shape == (0, 3)


def test_foreign_point_cloud_layout_is_read() -> None:
    """An organised 2x2 big-endian cloud: float64 xyz at 8/16/24, uint32 rgba at 0, point_step 40, padded rows."""
    xyz = np.arange(12, dtype=np.float64).reshape(4, 3) / 10
    colours = np.array([0x112233, 0x445566, 0x778899, 0xAABBCC], np.uint32)
    record = np.zeros(4, dtype=[("rgba", ">u4"), ("pad", ">u4"), ("xyz", ">f8", 3), ("tail", "u1", 8)])
    record["rgba"], record["xyz"] = colours, xyz
    rows = record.view(np.uint8).reshape(2, 80)
    data = np.hstack([rows, np.zeros((2, 6), np.uint8)]).ravel()
    fields = [
        C.PointField(name="rgba", offset=0, datatype=6, count=1),
        *[C.PointField(name=n, offset=8 + 8 * i, datatype=8, count=1) for i, n in enumerate("xyz")],
    ]
    msg = C.PointCloud2(
        header=C.header(0, "f"),
        height=2,
        width=2,
        fields=fields,
        is_bigendian=True,
        point_step=40,
        row_step=86,
        data=data,
        is_dense=True,
    )
    back, rgb = point_cloud_to_arrays(_through_cdr(msg))
    np.testing.assert_allclose(back, xyz.astype(np.float32))
    assert rgb is not None and rgb.tolist() == [
        [0x11, 0x22, 0x33],
        [0x44, 0x55, 0x66],
        [0x77, 0x88, 0x99],
        [0xAA, 0xBB, 0xCC],
    ]


def test_named_columns_round_trip() -> None:
    columns = {"u_left": np.array([10.5, 20.25]), "v_left": np.array([3.0, 4.0]), "confidence": np.array([0.9, 0.4])}
    msg = _through_cdr(columns_to_point_cloud(C, columns, stamp_ns=STAMP, frame_id="cam"))
    assert [(f.name, f.offset) for f in msg.fields] == [("u_left", 0), ("v_left", 4), ("confidence", 8)]
    back = point_cloud_columns(msg)
    assert list(back) == list(columns)
    for name, values in columns.items():
        np.testing.assert_array_equal(back[name], values.astype(np.float32))
    with pytest.raises(MessageError, match="needs columns of one length"):
        columns_to_point_cloud(C, {"a": np.zeros(2), "b": np.zeros(3)}, stamp_ns=0, frame_id="cam")
    empty = point_cloud_columns(_through_cdr(columns_to_point_cloud(C, {"a": np.zeros(0)}, stamp_ns=0, frame_id="c")))
    assert empty["a"].shape == (0,)


def test_point_cloud_errors_name_topic() -> None:
    msg = arrays_to_point_cloud(C, np.zeros((3, 3)), None, stamp_ns=0, frame_id="f")
    msg.data = msg.data[:20]
    with pytest.raises(MessageError, match=r"/matcher/points: point cloud 3x1 with point_step 12 needs row_step >= 36"):
        point_cloud_to_arrays(msg, topic="/matcher/points")
    msg = arrays_to_point_cloud(C, np.zeros((3, 3)), None, stamp_ns=0, frame_id="f")
    msg.fields = msg.fields[:2]
    with pytest.raises(MessageError, match=r"/p: point cloud needs fields x, y and z, has \['x', 'y'\]"):
        point_cloud_to_arrays(msg, topic="/p")
    with pytest.raises(MessageError, match=r"needs rgb uint8 \(3, 3\) like xyz"):
        arrays_to_point_cloud(C, np.zeros((3, 3)), np.zeros((2, 3), np.uint8), stamp_ns=0, frame_id="f")
    with pytest.raises(MessageError, match=r"needs xyz \(N, 3\)"):
        arrays_to_point_cloud(C, np.zeros((3, 2)), None, stamp_ns=0, frame_id="f")


# --- PoseStamped in a Path, TF ---


def _pose(i: int) -> np.ndarray:
    return make_se3(rotation_about_axis([0.1 * i, 1.0, -0.2], 0.05 * i + 0.1), [0.001 * i, -0.002 * i, 0.05])


def test_path_round_trip() -> None:
    stamps = [STAMP + i * 100_000_000 for i in range(5)]
    poses = [_pose(i) for i in range(5)]
    msg = _through_cdr(poses_to_path(C, stamps, poses, stamp_ns=stamps[-1], frame_id="world"))
    assert msg.header.frame_id == "world" and stamp_ns(msg.header) == stamps[-1]
    assert all(p.header.frame_id == "world" for p in msg.poses)
    back_stamps, back = path_to_poses(msg)
    assert back_stamps == stamps
    np.testing.assert_allclose(back, np.stack(poses), atol=1e-12)


def test_path_errors() -> None:
    with pytest.raises(MessageError, match="path in 'world': 2 stamps but 1 poses"):
        poses_to_path(C, [1, 2], [np.eye(4)], stamp_ns=0, frame_id="world")
    with pytest.raises(MessageError, match="pose 0 must be a finite"):
        poses_to_path(C, [1], [np.full((4, 4), np.nan)], stamp_ns=0, frame_id="world")
    msg = poses_to_path(C, [1], [np.eye(4)], stamp_ns=0, frame_id="world")
    msg.poses[0].header.frame_id = "map"
    with pytest.raises(MessageError, match="/tracker/path: path pose 0 is in 'map', the path in 'world'"):
        path_to_poses(msg, topic="/tracker/path")


def test_tf_with_several_transforms_round_trip() -> None:
    transforms = [
        StampedTransform(STAMP, "world", "stereo_left_optical_frame", _pose(1)),
        StampedTransform(STAMP + 5, "stereo_left_optical_frame", "stereo_left_rect_optical_frame", _pose(2)),
    ]
    back = tf_to_transforms(_through_cdr(transforms_to_tf(C, transforms)))
    assert [(t.stamp_ns, t.parent, t.child) for t in back] == [(t.stamp_ns, t.parent, t.child) for t in transforms]
    for got, want in zip(back, transforms, strict=True):
        np.testing.assert_allclose(got.T_parent_child, want.T_parent_child, atol=1e-12)


# --- Marker TRIANGLE_LIST ---


def test_mesh_marker_round_trip() -> None:
    vertices = np.array([[0, 0, 0.1], [0.01, 0, 0.1], [0, 0.01, 0.1], [0.01, 0.01, 0.12]])
    triangles = np.array([[0, 1, 2], [1, 3, 2]])
    colors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]])
    msg = _through_cdr(mesh_to_marker(C, vertices, triangles, colors, stamp_ns=STAMP, frame_id="world", marker_id=3))
    assert (msg.type, msg.action, msg.id, msg.ns, msg.header.frame_id) == (TRIANGLE_LIST, 0, 3, "mesh", "world")
    assert (msg.scale.x, msg.color.a, msg.pose.orientation.w) == (1.0, 1.0, 1.0)
    corners, rgba = marker_to_triangles(msg)
    np.testing.assert_allclose(corners, vertices[triangles])
    np.testing.assert_allclose(rgba[..., :3], colors[triangles].astype(np.float32))
    assert np.all(rgba[..., 3] == 1.0)


def test_marker_errors() -> None:
    with pytest.raises(MessageError, match=r"triangles must be \(F, 3\) indices below 3"):
        mesh_to_marker(C, np.zeros((3, 3)), np.array([[0, 1, 3]]), None, stamp_ns=0, frame_id="w")
    with pytest.raises(MessageError, match=r"colors must be \(V, 3\)"):
        mesh_to_marker(C, np.zeros((3, 3)), np.array([[0, 1, 2]]), np.zeros((2, 3)), stamp_ns=0, frame_id="w")
    msg = mesh_to_marker(C, np.zeros((3, 3)), np.array([[0, 1, 2]]), None, stamp_ns=0, frame_id="w")
    msg.points = msg.points[:2]
    with pytest.raises(MessageError, match="/trainer/mesh: TRIANGLE_LIST marker has 2 points, not a multiple of 3"):
        marker_to_triangles(msg, topic="/trainer/mesh")
