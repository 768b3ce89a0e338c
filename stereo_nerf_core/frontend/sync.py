"""Approximate-time pairing of left and right images, as message_filters' synchroniser does it.

Each side keeps at most ``queue_size`` items. When an item arrives, the other side's queue is
searched for the item closest in time; if it lies within ``slop`` the two are emitted as a pair and
every older item on both sides is dropped (and counted). Queue overflow also drops the oldest.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from stereo_nerf_core.config import SyncConfig

T = TypeVar("T")
Side = Literal["left", "right"]


@dataclass
class SyncStats:
    """Counts of what the synchroniser did."""

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
    """Pairs left and right items by stamp; thread-compatible (callers serialise pushes)."""

    def __init__(self, config: SyncConfig) -> None:
        self.slop_ns = round(config.slop_s * 1e9)
        self.queue_size = config.queue_size
        self.queues: dict[Side, deque[tuple[int, T]]] = {"left": deque(), "right": deque()}
        self.stats = SyncStats()

    def push(self, side: Side, stamp_ns: int, item: T) -> StampedPair[T] | None:
        """Offer one item; returns the pair it completes, if any."""
        other: Side = "right" if side == "left" else "left"
        candidates = self.queues[other]
        best = min(range(len(candidates)), key=lambda i: abs(candidates[i][0] - stamp_ns), default=None)
        if best is not None and abs(candidates[best][0] - stamp_ns) <= self.slop_ns:
            partner_stamp, partner = candidates[best]
            self._drop_older(other, partner_stamp, inclusive=True)
            self._drop_older(side, stamp_ns, inclusive=False)
            self.stats.pairs += 1
            if side == "left":
                return StampedPair(stamp_ns, item, partner)
            return StampedPair(partner_stamp, partner, item)
        queue = self.queues[side]
        queue.append((stamp_ns, item))
        while len(queue) > self.queue_size:
            queue.popleft()
            self._count_drop(side)
        return None

    def flush(self) -> None:
        """End of stream: whatever is still waiting will never be paired and counts as dropped."""
        sides: tuple[Side, Side] = ("left", "right")
        for side in sides:
            while self.queues[side]:
                self.queues[side].popleft()
                self._count_drop(side)

    def _drop_older(self, side: Side, stamp_ns: int, *, inclusive: bool) -> None:
        queue = self.queues[side]
        kept: deque[tuple[int, T]] = deque()
        for stamp, item in queue:
            if stamp < stamp_ns:
                self._count_drop(side)
            elif stamp == stamp_ns and inclusive:
                continue
            else:
                kept.append((stamp, item))
        self.queues[side] = kept

    def _count_drop(self, side: Side) -> None:
        if side == "left":
            self.stats.dropped_left += 1
        else:
            self.stats.dropped_right += 1
