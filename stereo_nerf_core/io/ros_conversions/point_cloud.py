"""sensor_msgs/PointCloud2 <-> arrays: float32 ``x``, ``y``, ``z`` and a packed float32 ``rgb`` field.

Written clouds are unorganised (height 1), little-endian, ``point_step`` 16 bytes: x, y, z at
offsets 0, 4, 8 and ``rgb`` at 12, the PCL/RViz convention of a uint32 ``0x00RRGGBB`` whose bytes
are stored as a float32. Reading accepts any offsets, ``point_step``, ``row_step`` padding,
organised clouds (height > 1), big-endian data, float64 coordinates and ``rgb``/``rgba`` fields of
type float32 or uint32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.io.errors import MessageError
from stereo_nerf_core.io.messages import MessageClasses

FLOAT32, FLOAT64, UINT32 = 7, 8, 6
"""sensor_msgs/PointField datatypes used here."""
POINT_STEP = 16
_DATATYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}


def _name(topic: str | None) -> str:
    return f"{topic}: " if topic else ""


def pack_rgb(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """(N, 3) uint8 colours -> (N,) float32 whose bytes are the uint32 ``0x00RRGGBB``."""
    colours = np.asarray(rgb, dtype=np.uint32)
    packed = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
    return packed.astype("<u4").view("<f4")


def unpack_rgb(packed: NDArray[Any]) -> NDArray[np.uint8]:
    """(N,) float32 or uint32 packed colours -> (N, 3) uint8 RGB."""
    values = np.asarray(packed)
    bits = np.ascontiguousarray(values, np.float32).view(np.uint32) if values.dtype.kind == "f" else values
    bits = bits.astype(np.uint32)
    return np.stack([(bits >> 16) & 255, (bits >> 8) & 255, bits & 255], axis=1).astype(np.uint8)


def arrays_to_point_cloud(
    classes: MessageClasses,
    xyz: NDArray[np.floating],
    rgb: NDArray[np.uint8] | None,
    *,
    stamp_ns: int,
    frame_id: str,
) -> Any:
    """An unorganised PointCloud2 of (N, 3) points in metres and, when given, (N, 3) uint8 colours."""
    points = np.asarray(xyz)
    if points.ndim != 2 or points.shape[1] != 3:
        raise MessageError(f"point cloud for {frame_id!r} needs xyz (N, 3), got {points.shape}")
    count = len(points)
    fields = [classes.PointField(name=name, offset=4 * i, datatype=FLOAT32, count=1) for i, name in enumerate("xyz")]
    columns = [points.astype("<f4")]
    if rgb is not None:
        colours = np.asarray(rgb)
        if colours.shape != (count, 3) or colours.dtype != np.uint8:
            raise MessageError(
                f"point cloud for {frame_id!r} needs rgb uint8 ({count}, 3) like xyz, "
                f"got {colours.dtype} {colours.shape}"
            )
        fields.append(classes.PointField(name="rgb", offset=12, datatype=FLOAT32, count=1))
        columns.append(pack_rgb(colours).reshape(-1, 1))
    record = np.ascontiguousarray(np.hstack(columns).astype("<f4"))
    return _cloud(
        classes, fields, record, dense=bool(np.all(np.isfinite(points))), stamp_ns=stamp_ns, frame_id=frame_id
    )


def _cloud(
    classes: MessageClasses, fields: list[Any], record: NDArray[Any], *, dense: bool, stamp_ns: int, frame_id: str
) -> Any:
    """An unorganised PointCloud2 of float32 ``record`` rows (N, F), one 4-byte field per column."""
    count, step = len(record), 4 * record.shape[1]
    return classes.PointCloud2(
        header=classes.header(stamp_ns, frame_id),
        height=1,
        width=count,
        fields=fields,
        is_bigendian=False,
        point_step=step,
        row_step=step * count,
        data=classes.uint8_array(np.ascontiguousarray(record, dtype="<f4").tobytes()),
        is_dense=dense,
    )


def _point_rows(msg: Any, topic: str | None) -> NDArray[np.uint8]:
    """(N, point_step) bytes of every point, row padding skipped."""
    height, width, step, row_step = int(msg.height), int(msg.width), int(msg.point_step), int(msg.row_step)
    data = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    if step <= 0 or row_step < step * width or data.size < row_step * height:
        raise MessageError(
            f"{_name(topic)}point cloud {width}x{height} with point_step {step} needs row_step >= {step * width} "
            f"and {row_step * height} bytes, got row_step {row_step} and {data.size} bytes"
        )
    rows = data[: row_step * height].reshape(height, row_step)[:, : step * width].reshape(height * width, step)
    return rows


def _field_values(msg: Any, rows: NDArray[np.uint8], name: str, topic: str | None) -> NDArray[Any] | None:
    """(N,) values of field ``name`` (None when the cloud has no such field)."""
    for field in msg.fields:
        if str(field.name) != name:
            continue
        code = _DATATYPES.get(int(field.datatype))
        if code is None:
            raise MessageError(f"{_name(topic)}point field {name!r} has unknown datatype {field.datatype}")
        dtype = np.dtype(code).newbyteorder(">" if msg.is_bigendian else "<")
        offset = int(field.offset)
        if offset + dtype.itemsize > int(msg.point_step):
            raise MessageError(
                f"{_name(topic)}point field {name!r} at offset {offset} does not fit point_step {msg.point_step}"
            )
        raw = np.ascontiguousarray(rows[:, offset : offset + dtype.itemsize])
        return raw.view(dtype).reshape(-1).astype(dtype.newbyteorder("="))
    return None


def point_cloud_to_arrays(
    msg: Any, *, topic: str | None = None
) -> tuple[NDArray[np.float32], NDArray[np.uint8] | None]:
    """(N, 3) float32 points and (N, 3) uint8 colours (None without an ``rgb``/``rgba`` field), row-major."""
    rows = _point_rows(msg, topic)
    coordinates = [_field_values(msg, rows, axis, topic) for axis in "xyz"]
    if any(values is None for values in coordinates):
        names = [str(field.name) for field in msg.fields]
        raise MessageError(f"{_name(topic)}point cloud needs fields x, y and z, has {names}")
    xyz = np.stack(coordinates, axis=1).astype(np.float32)  # type: ignore[arg-type]
    packed = _field_values(msg, rows, "rgb", topic)
    if packed is None:
        packed = _field_values(msg, rows, "rgba", topic)
    return xyz, None if packed is None else unpack_rgb(packed)


def columns_to_point_cloud(
    classes: MessageClasses, columns: dict[str, NDArray[np.floating]], *, stamp_ns: int, frame_id: str
) -> Any:
    """An unorganised PointCloud2 of named float32 (N,) columns, in order (for example sparse matches:
    ``u_left``, ``v_left``, ``u_right``, ``v_right``, ``confidence``)."""
    if not columns:
        raise MessageError(f"point cloud for {frame_id!r} needs at least one column")
    arrays = [np.asarray(values, dtype="<f4").reshape(-1) for values in columns.values()]
    count = len(arrays[0])
    if any(len(values) != count for values in arrays):
        sizes = {name: np.asarray(values).size for name, values in columns.items()}
        raise MessageError(f"point cloud for {frame_id!r} needs columns of one length, got {sizes}")
    fields = [classes.PointField(name=name, offset=4 * i, datatype=FLOAT32, count=1) for i, name in enumerate(columns)]
    record = np.stack(arrays, axis=1) if count else np.zeros((0, len(arrays)), "<f4")
    dense = bool(all(np.all(np.isfinite(values)) for values in arrays))
    return _cloud(classes, fields, record, dense=dense, stamp_ns=stamp_ns, frame_id=frame_id)


def point_cloud_columns(msg: Any, *, topic: str | None = None) -> dict[str, NDArray[Any]]:
    """Every field of a PointCloud2 as an (N,) array, by name, in the message's field order."""
    rows = _point_rows(msg, topic)
    columns: dict[str, NDArray[Any]] = {}
    for field in msg.fields:
        values = _field_values(msg, rows, str(field.name), topic)
        assert values is not None
        columns[str(field.name)] = values
    return columns
