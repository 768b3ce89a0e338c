"""Approximate-time grouping of stamped items, one per channel, as message_filters' synchroniser does it.

:class:`StampSync` is the one synchroniser: the frame source pairs left and right images with it
(through the :class:`ApproximateTimeSync` shell), the in-process stage graph groups each node's
inputs with it. Each channel keeps at most ``queue_size`` items. When an item arrives, every other
channel's queue is searched for the item closest in time; if each lies within ``slop_ns`` the items
are emitted as one set, and every older item on every channel is dropped (and counted). Queue
overflow also drops the oldest. ``slop_ns`` 0 groups exact stamps (``TimeSynchronizer``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from stereo_nerf_core.config import SyncConfig
from stereo_nerf_core.frontend.errors import FrontendError

T = TypeVar("T")
Side = Literal["left", "right"]


@dataclass(frozen=True)
class StampedSet(Generic[T]):
    """One item per channel, in channel order; ``stamp_ns`` is the first channel's item's stamp."""

    stamp_ns: int
    items: tuple[T, ...]


class StampSync(Generic[T]):
    """Groups items of ``channels`` by stamp (see the module docstring); callers serialise pushes."""

    def __init__(self, channels: Sequence[str], *, slop_ns: int, queue_size: int) -> None:
        if not channels or len(set(channels)) != len(channels):
            raise FrontendError(f"a synchroniser needs distinct channels, got {list(channels)}")
        if slop_ns < 0 or queue_size < 1:
            raise FrontendError(f"a synchroniser needs slop_ns >= 0 and queue_size >= 1, got {slop_ns}, {queue_size}")
        self.topics = tuple(channels)
        self.slop_ns, self.queue_size = int(slop_ns), int(queue_size)
        self.queues: dict[str, deque[tuple[int, T]]] = {channel: deque() for channel in self.topics}
        self.sets = 0
        self.dropped_by_channel = dict.fromkeys(self.topics, 0)
        """Items that never became part of a set, per channel."""

    @property
    def dropped(self) -> int:
        """Items that never became part of a set, all channels."""
        return sum(self.dropped_by_channel.values())

    def push(self, channel: str, stamp_ns: int, item: T) -> StampedSet[T] | None:
        """Offer one item of ``channel``; returns the set it completes, if any."""
        if channel not in self.queues:
            raise FrontendError(f"{channel} is not an input of this synchroniser ({list(self.topics)})")
        partners: dict[str, tuple[int, T]] = {}
        for other in self.topics:
            if other == channel:
                continue
            queue = self.queues[other]
            best = min(range(len(queue)), key=lambda i: abs(queue[i][0] - stamp_ns), default=None)
            if best is None or abs(queue[best][0] - stamp_ns) > self.slop_ns:
                queue = self.queues[channel]
                queue.append((stamp_ns, item))
                while len(queue) > self.queue_size:
                    queue.popleft()
                    self.dropped_by_channel[channel] += 1
                return None
            partners[other] = queue[best]
        for other, (stamp, _) in partners.items():
            self._drop_older(other, stamp, inclusive=True)
        self._drop_older(channel, stamp_ns, inclusive=False)
        partners[channel] = (stamp_ns, item)
        self.sets += 1
        return StampedSet(partners[self.topics[0]][0], tuple(partners[name][1] for name in self.topics))

    def flush(self) -> None:
        """End of stream: whatever is still waiting will never be grouped and counts as dropped."""
        for channel, queue in self.queues.items():
            self.dropped_by_channel[channel] += len(queue)
            queue.clear()

    def _drop_older(self, channel: str, stamp_ns: int, *, inclusive: bool) -> None:
        """Drop (and count) items older than ``stamp_ns``; ``inclusive`` also removes the one at it, not counted."""
        kept: deque[tuple[int, T]] = deque()
        for stamp, item in self.queues[channel]:
            if stamp < stamp_ns:
                self.dropped_by_channel[channel] += 1
            elif not (stamp == stamp_ns and inclusive):
                kept.append((stamp, item))
        self.queues[channel] = kept


@dataclass
class SyncStats:
    """Counts of what the stereo pairing did."""

    pairs: int = 0
    dropped_left: int = 0
    dropped_right: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-friendly copy."""
        return {"pairs": self.pairs, "dropped_left": self.dropped_left, "dropped_right": self.dropped_right}


@dataclass(frozen=True)
class StampedPair(Generic[T]):
    """A synchronised pair; ``stamp_ns`` is the left item's stamp."""

    stamp_ns: int
    left: T
    right: T


class ApproximateTimeSync(Generic[T]):
    """Left and right images paired by :class:`StampSync` with ``sync.slop_s`` and ``sync.queue_size``."""

    def __init__(self, config: SyncConfig) -> None:
        self.sync: StampSync[T] = StampSync(
            ("left", "right"), slop_ns=round(config.slop_s * 1e9), queue_size=config.queue_size
        )

    def push(self, side: Side, stamp_ns: int, item: T) -> StampedPair[T] | None:
        """Offer one item; returns the pair it completes, if any."""
        grouped = self.sync.push(side, stamp_ns, item)
        return None if grouped is None else StampedPair(grouped.stamp_ns, *grouped.items)

    def flush(self) -> None:
        """End of stream: whatever is still waiting will never be paired and counts as dropped."""
        self.sync.flush()

    @property
    def stats(self) -> SyncStats:
        """Pairs made and images dropped per side so far."""
        dropped = self.sync.dropped_by_channel
        return SyncStats(self.sync.sets, dropped["left"], dropped["right"])
