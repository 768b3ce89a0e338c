"""Reading what is left of an mcap file that was cut off (no summary, no footer).

A recorder that loses power leaves an mcap without its footer, which normal readers refuse. The
records before the cut are intact: this module walks them in file order (schemas, channels,
messages, compressed chunks) and stops at the first incomplete one. Messages within a chunk come
out in log-time order; chunks are written in time order by rosbag2 and rosbags.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.rosbag2.storage_mcap import DECOMPRESSORS

from stereo_nerf_core.io.errors import BagError

MAGIC = b"\x89MCAP0\r\n"
OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_FOOTER, OP_DATA_END = 0x03, 0x04, 0x05, 0x06, 0x02, 0x0F


@dataclass
class RecoveredMessage:
    """One message read from a truncated file (raw CDR bytes)."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes


@dataclass
class RecoveryScan:
    """Channels seen so far and where the readable part of the file ends."""

    path: Path
    channels: dict[int, tuple[str, str]] = field(default_factory=dict)
    schemas: dict[int, str] = field(default_factory=dict)
    readable_bytes: int = 0
    file_bytes: int = 0
    messages: int = 0


def _string(buffer: bytes, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<I", buffer, offset)
    start = offset + 4
    return buffer[start : start + length].decode(), start + length


def _records(data: bytes | mmap.mmap, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """(opcode, body) of each complete record in ``data`` from ``offset``; stops at the first incomplete one."""
    while offset + 9 <= len(data):
        opcode = data[offset]
        (length,) = struct.unpack_from("<Q", data, offset + 1)
        end = offset + 9 + length
        if end > len(data):
            return
        yield opcode, bytes(data[offset + 9 : end])
        offset = end


def _parse(scan: RecoveryScan, opcode: int, body: bytes) -> Iterator[RecoveredMessage]:
    if opcode == OP_SCHEMA:
        (schema_id,) = struct.unpack_from("<H", body, 0)
        name, _ = _string(body, 2)
        scan.schemas[schema_id] = name
    elif opcode == OP_CHANNEL:
        channel_id, schema_id = struct.unpack_from("<HH", body, 0)
        topic, _ = _string(body, 4)
        scan.channels[channel_id] = (topic, scan.schemas.get(schema_id, ""))
    elif opcode == OP_MESSAGE:
        channel_id, _, log_time, _ = struct.unpack_from("<HIQQ", body, 0)
        if channel_id in scan.channels:
            topic, msgtype = scan.channels[channel_id]
            scan.messages += 1
            yield RecoveredMessage(topic, msgtype, log_time, body[22:])
    elif opcode == OP_CHUNK:
        _, _, uncompressed_size, _ = struct.unpack_from("<QQQI", body, 0)
        compression, offset = _string(body, 28)
        (compressed_size,) = struct.unpack_from("<Q", body, offset)
        payload = body[offset + 8 : offset + 8 + compressed_size]
        if compression not in DECOMPRESSORS:
            raise BagError(f"{scan.path}: unsupported mcap chunk compression {compression!r}")
        records = DECOMPRESSORS[compression](payload, uncompressed_size)
        inner: list[RecoveredMessage] = []
        for inner_opcode, inner_body in _records(records):
            inner.extend(_parse(scan, inner_opcode, inner_body))
        yield from sorted(inner, key=lambda message: message.log_time_ns)


def is_truncated_mcap(path: Path) -> bool:
    """Whether ``path`` starts like an mcap file but lacks the closing magic (the recorder was cut off)."""
    if path.suffix != ".mcap" or not path.is_file() or path.stat().st_size < 2 * len(MAGIC):
        return False
    with path.open("rb") as stream:
        head = stream.read(len(MAGIC))
        stream.seek(-len(MAGIC), 2)
        tail = stream.read(len(MAGIC))
    return head == MAGIC and tail != MAGIC


def read_truncated_mcap(path: Path, scan: RecoveryScan | None = None) -> Iterator[RecoveredMessage]:
    """Every complete message of ``path`` in file order; ``scan`` (if given) records how far it got."""
    state = scan if scan is not None else RecoveryScan(path)
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[: len(MAGIC)] != MAGIC:
            raise BagError(f"{path}: not an mcap file (bad leading magic)")
        state.file_bytes = len(data)
        body_start = len(MAGIC)
        for opcode, body in _records(data, body_start):
            if opcode in (OP_FOOTER, OP_DATA_END):
                break
            try:
                parsed = list(_parse(state, opcode, body))
            except BagError:
                raise
            except Exception as error:  # struct, decompression or decoding failures of a damaged record
                raise BagError(f"{path}: damaged mcap record at byte {body_start}: {error}") from error
            yield from parsed
            body_start += 9 + len(body)
            state.readable_bytes = body_start
