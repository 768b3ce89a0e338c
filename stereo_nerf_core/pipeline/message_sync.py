"""ROS-free stand-in for message_filters' synchronisers, used where :class:`StageGraph` feeds a stage.

:class:`StampSync` groups one message per topic whose header stamps lie within ``slop_ns`` of the
newest message's stamp (``slop_ns`` 0: exact stamps, like ``TimeSynchronizer``); each topic keeps at
most ``queue_size`` waiting messages (older ones are dropped and counted, as message_filters does).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from stereo_nerf_core.io.messages import stamp_ns
from stereo_nerf_core.pipeline.errors import PipelineError


class StampSync:
    """Groups messages of ``topics`` by header stamp; :meth:`push` returns a complete set in topic order."""

    def __init__(self, topics: Sequence[str], *, slop_ns: int, queue_size: int) -> None:
        if not topics or len(set(topics)) != len(topics):
            raise PipelineError(f"a synchroniser needs distinct topics, got {list(topics)}")
        self.topics = tuple(topics)
        self.slop_ns = int(slop_ns)
        self.queue_size = int(queue_size)
        self.queues: dict[str, deque[tuple[int, Any]]] = {topic: deque() for topic in self.topics}
        self.dropped = 0
        """Messages that aged out of a full queue without a complete set."""
        self.sets = 0

    def push(self, topic: str, msg: Any) -> tuple[Any, ...] | None:
        """Offer one message of ``topic``; returns the set (one message per topic, in order) it completes."""
        if topic not in self.queues:
            raise PipelineError(f"{topic} is not an input of this synchroniser ({list(self.topics)})")
        stamp = stamp_ns(msg.header)
        chosen: dict[str, int] = {}
        for other in self.topics:
            if other == topic:
                continue
            queue = self.queues[other]
            best = min(range(len(queue)), key=lambda i: abs(queue[i][0] - stamp), default=None)
            if best is None or abs(queue[best][0] - stamp) > self.slop_ns:
                break
            chosen[other] = best
        else:
            result = []
            for name in self.topics:
                if name == topic:
                    result.append(msg)
                    continue
                queue = self.queues[name]
                index = chosen[name]
                result.append(queue[index][1])
                for _ in range(index + 1):  # the partner and everything older than it (dropped)
                    queue.popleft()
                self.dropped += index
            self.sets += 1
            return tuple(result)
        queue = self.queues[topic]
        queue.append((stamp, msg))
        while len(queue) > self.queue_size:
            queue.popleft()
            self.dropped += 1
        return None
