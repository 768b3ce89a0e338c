"""The std_msgs/Header at the start of a serialised (CDR) ROS 2 message, read without deserialising the rest.

A probe or player that only needs a message's stamp and frame can skip turning a megabyte image into
Python objects. Valid for every type whose first field is a ``std_msgs/Header`` (Image, CameraInfo,
CompressedImage, PointCloud2, PoseStamped, Path, Marker, ...); big- and little-endian CDR.
"""

from __future__ import annotations

import struct

from stereo_nerf_core.io.errors import MessageError

_ENCAPSULATION = {b"\x00\x00": ">", b"\x00\x01": "<", b"\x00\x02": ">", b"\x00\x03": "<"}
"""CDR / PL_CDR, big- or little-endian: the first two bytes of a serialised message."""


def cdr_header(data: bytes | bytearray | memoryview) -> tuple[int, str]:
    """``(stamp_ns, frame_id)`` of a serialised message that starts with a std_msgs/Header."""
    raw = bytes(data[:4])
    order = _ENCAPSULATION.get(raw[:2])
    if order is None or len(data) < 16:
        raise MessageError(f"not a CDR message with a header (encapsulation {raw[:2]!r}, {len(data)} bytes)")
    sec, nanosec, length = struct.unpack_from(f"{order}iII", data, 4)
    end = 16 + length
    if length == 0 or end > len(data):
        raise MessageError(f"CDR header frame_id of {length} bytes does not fit a {len(data)}-byte message")
    frame_id = bytes(data[16 : end - 1]).decode("utf-8", errors="replace")  # drop the terminating NUL
    return sec * 1_000_000_000 + nanosec, frame_id


def with_stamp(data: bytes | bytearray | memoryview, stamp_ns: int) -> bytes:
    """A copy of a serialised message that starts with a std_msgs/Header, its stamp set to ``stamp_ns``."""
    cdr_header(data)  # checks that it is one
    order = _ENCAPSULATION[bytes(data[:2])]
    copy = bytearray(data)
    struct.pack_into(f"{order}iI", copy, 4, stamp_ns // 1_000_000_000, stamp_ns % 1_000_000_000)
    return bytes(copy)
