"""Reading and writing ROS 2 bags (sqlite3 or mcap) with rosbags, no ROS installation needed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from rosbags.highlevel import AnyReader
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from stereo_nerf_core.io.errors import BagError
from stereo_nerf_core.io.mcap_recovery import is_truncated_mcap, read_truncated_mcap
from stereo_nerf_core.io.messages import MessageClasses

TYPESTORE = get_typestore(Stores.ROS2_JAZZY)
ROSBAGS_CLASSES = MessageClasses.from_typestore(TYPESTORE)
LATCHED_QOS = Qos(
    QosHistory.KEEP_LAST,
    1,
    QosReliability.RELIABLE,
    QosDurability.TRANSIENT_LOCAL,
    QosTime(0, 0),
    QosTime(0, 0),
    QosLiveliness.AUTOMATIC,
    QosTime(0, 0),
    False,
)
"""Offered QoS recorded for latched topics such as /tf_static (what ``ros2 bag record`` stores)."""


@dataclass(frozen=True)
class BagMessage:
    """One deserialised message: its topic, receive time (bag timestamp, ns) and content."""

    topic: str
    msgtype: str
    log_time_ns: int
    msg: Any


class BagWriter:
    """Writes messages built from :data:`ROSBAGS_CLASSES` into a new bag folder.

    Use as a context manager; connections are added on a topic's first message. ``compression="zstd"``
    compresses mcap chunks (standard mcap chunk compression) or, for sqlite3, each message.
    ``custom_data`` (string keys and values) goes into ``metadata.yaml``'s ``custom_data``.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        storage: Literal["mcap", "sqlite3"] = "mcap",
        compression: Literal["none", "zstd"] = "none",
        custom_data: Mapping[str, str] | None = None,
    ) -> None:
        plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}.get(storage)
        if plugin is None:
            raise BagError(f"unknown bag storage {storage!r}: use 'mcap' or 'sqlite3'")
        if compression not in ("none", "zstd"):
            raise BagError(f"unknown bag compression {compression!r}: use 'none' or 'zstd'")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists already; bags are never overwritten")
        self._writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
        if compression == "zstd":
            mode = CompressionMode.STORAGE if plugin == StoragePlugin.MCAP else CompressionMode.MESSAGE
            self._writer.set_compression(mode, CompressionFormat.ZSTD)
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(str(key), str(value))
        self._connections: dict[str, Any] = {}

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._writer.close()

    def write(self, topic: str, msg: Any, log_time_ns: int, *, latched: bool = False) -> None:
        """Serialise ``msg`` (a rosbags message) to CDR and append it under ``topic``.

        ``latched`` (on a topic's first message) records transient-local QoS, as for /tf_static.
        """
        msgtype = msg.__msgtype__
        connection = self._connections.get(topic)
        if connection is None:
            qos = (LATCHED_QOS,) if latched else ()
            connection = self._writer.add_connection(topic, msgtype, typestore=TYPESTORE, offered_qos_profiles=qos)
            self._connections[topic] = connection
        self._writer.write(connection, int(log_time_ns), TYPESTORE.serialize_cdr(msg, msgtype))


@dataclass(frozen=True)
class TopicSummary:
    """What a bag's metadata says of one topic."""

    msgtype: str
    count: int


def truncated_mcap_file(path: Path | str) -> Path | None:
    """The mcap file of a bag that was cut off (no footer), or None for a complete bag."""
    bag = Path(path)
    files = sorted(bag.glob("*.mcap")) if bag.is_dir() else [bag]
    return files[0] if len(files) == 1 and is_truncated_mcap(files[0]) else None


def bag_topics(path: Path | str) -> dict[str, TopicSummary]:
    """Topic name -> type and message count; raises :class:`BagError` naming the path if unreadable.

    A truncated mcap (cut-off recording) is scanned instead: counts are of its complete messages.
    """
    summary: dict[str, TopicSummary] = {}
    truncated = truncated_mcap_file(path)
    if truncated is not None:
        for message in read_truncated_mcap(truncated):
            previous = summary.get(message.topic)
            summary[message.topic] = TopicSummary(message.msgtype, 1 + (previous.count if previous else 0))
        return summary
    with _BagOpener(Path(path)) as reader:
        for connection in reader.connections:
            previous = summary.get(connection.topic)
            count = connection.msgcount + (previous.count if previous else 0)
            summary[connection.topic] = TopicSummary(connection.msgtype, count)
    return summary


def bag_duration_s(path: Path | str) -> float | None:
    """Seconds from the bag's first to its last message (its metadata); None for a cut-off mcap."""
    if truncated_mcap_file(path) is not None:
        return None
    with _BagOpener(Path(path)) as reader:
        return float(reader.duration) * 1e-9


@dataclass(frozen=True)
class RawBagMessage:
    """One message as stored: its topic, type, receive time (bag timestamp, ns) and CDR bytes."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes


def read_raw_messages(path: Path | str, topics: Iterable[str] | None = None) -> Iterator[RawBagMessage]:
    """Serialised messages of ``topics`` (all when None) in log-time order, not deserialised.

    For a player that hands the CDR to another middleware (rclpy's ``deserialize_message``). Errors as
    in :func:`read_messages`: :class:`BagError` naming the bag, after every earlier message was yielded.
    """
    for raw, _ in _stored_messages(Path(path), None if topics is None else set(topics)):
        yield raw


def read_messages(path: Path | str, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """Messages of ``topics`` (all when None) in log-time order.

    Missing topics are not an error here (callers decide what they require); a message that
    cannot be read or deserialised raises :class:`BagError` naming the bag and the topic, after every
    earlier message was yielded, so callers keep what they computed. A cut-off mcap recording (no
    footer) yields its complete messages (see :mod:`stereo_nerf_core.io.mcap_recovery`).
    """
    bag = Path(path)
    for raw, deserialize in _stored_messages(bag, None if topics is None else set(topics)):
        try:
            msg = deserialize(raw.data, raw.msgtype)
        except Exception as error:
            raise BagError(
                f"{bag}: cannot deserialise a {raw.msgtype} message on topic {raw.topic}: {error}"
            ) from error
        yield BagMessage(raw.topic, raw.msgtype, raw.log_time_ns, msg)


def _stored_messages(bag: Path, wanted: set[str] | None) -> Iterator[tuple[RawBagMessage, Callable[[bytes, str], Any]]]:
    """Raw messages with the deserialiser of their bag (the bag's own type definitions where it has them)."""
    truncated = truncated_mcap_file(bag)
    if truncated is not None:
        for message in read_truncated_mcap(truncated):
            if wanted is None or message.topic in wanted:
                raw = RawBagMessage(message.topic, message.msgtype, message.log_time_ns, message.data)
                yield raw, TYPESTORE.deserialize_cdr
        return
    with _BagOpener(bag) as reader:
        connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
        iterator = reader.messages(connections=connections)
        while True:
            try:
                connection, timestamp, data = next(iterator)
            except StopIteration:
                return
            except Exception as error:  # storage backends raise many kinds on truncation
                raise BagError(f"{bag}: bag is truncated or corrupt while reading messages: {error}") from error
            yield RawBagMessage(connection.topic, connection.msgtype, int(timestamp), data), reader.deserialize


class _BagOpener:
    """Context manager around AnyReader that turns its failures into :class:`BagError`."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise BagError(f"{path}: no such bag (expected a rosbag2 folder or a .mcap/.db3 file)")
        self.path = path
        self.reader: AnyReader | None = None

    def __enter__(self) -> AnyReader:
        paths = [self.path]
        try:
            self.reader = AnyReader(paths, default_typestore=TYPESTORE)
            self.reader.open()
        except Exception as error:
            raise BagError(f"{self.path}: cannot open bag: {error}") from error
        return self.reader

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if self.reader is not None:
            self.reader.close()
