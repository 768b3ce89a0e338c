"""What a live node watches on its inputs, ROS-free: faults counted per cause, stamps, rates and silences.

:class:`FaultLog` counts each fault by cause and topic and says when it is worth a log line: the first time,
then at most once per ``throttle_s`` (with the count since), and once more when good input returns.
:class:`StampWatch` sees every message of a synchronised set as it arrives and reports:

- stamps that jump backwards on a topic (a restarted bag or driver): the synchroniser must forget what it
  holds stamped after the new stamp, or it waits forever for partners that will never come;
- a burst: more than ``burst_factor`` (3) times the topic's usual rate over the last ``burst_window_s`` (the node
  sees what its executor takes: beyond that, the sensor-data QoS drops messages in DDS, unseen);
- a silent partner: a topic of the set with nothing for ``silence_s`` while another keeps arriving (a left
  image without its right one), and when it is back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

STAMPS_BACKWARDS = "stamps jumped backwards"
BURST = "input burst"
SILENT_PARTNER = "partner topic silent"
SLOWER_THAN_INPUT = "slower than its input"
SAME_RESTART_NS = 1_000_000_000
"""Backward jumps of the topics of one set to stamps this close are one restart (said and counted once)."""


@dataclass
class _Cause:
    count: int = 0
    since_logged: int = 0
    logged_s: float | None = None
    active: bool = False


@dataclass
class FaultLog:
    """Faults by (cause, topic): counts, and which occurrences deserve a log line."""

    throttle_s: float = 30.0
    """After the first line of a cause, at most one line (with the count since) this often."""
    causes: dict[tuple[str, str], _Cause] = field(default_factory=dict)

    def record(self, cause: str, topic: str, detail: str, now_s: float, *, lasting: bool = True) -> str | None:
        """Count one fault; returns the line to log now (or None while throttled). A ``lasting`` fault (bad
        messages, a silent topic) is over when good input returns; an event (a jump, a burst) is over at once."""
        entry = self.causes.setdefault((cause, topic), _Cause())
        entry.count += 1
        entry.since_logged += 1
        entry.active = entry.active or lasting
        if entry.logged_s is not None and now_s - entry.logged_s < self.throttle_s:
            return None
        repeated = ""
        if entry.count > 1:
            repeated = f" ({entry.since_logged} times since the last report, {entry.count} in all)"
        entry.logged_s, entry.since_logged = now_s, 0
        return f"{topic}: {cause}: {detail}{repeated}"

    def recovered(self, *, keep: tuple[str, ...] = (SILENT_PARTNER,)) -> list[str]:
        """Lines for the causes that were active and are over (call after good input was processed); the
        causes in ``keep`` end on their own (:meth:`end`)."""
        lines = []
        for (cause, topic), entry in self.causes.items():
            if entry.active and cause not in keep:
                entry.active = False
                lines.append(f"{topic}: good input again after {cause} ({entry.count} so far)")
        return lines

    def end(self, cause: str, topic: str) -> str | None:
        """One cause is over (a silent topic is back); its line, or None when it was not active."""
        entry = self.causes.get((cause, topic))
        if entry is None or not entry.active:
            return None
        entry.active = False
        return f"{topic}: {cause} is over ({entry.count} so far)"

    def counts(self) -> dict[str, int]:
        """``"<cause> on <topic>"`` -> count, for /diagnostics."""
        return {f"{cause} on {topic}": entry.count for (cause, topic), entry in self.causes.items()}

    @property
    def total(self) -> int:
        """Faults of every cause."""
        return sum(entry.count for entry in self.causes.values())


@dataclass(frozen=True)
class StampJump:
    """``topic``'s stamp went back by ``back_s`` seconds, to ``stamp_ns``; ``first`` for the first topic of the
    set to jump to about that stamp (the others of the same restart follow it)."""

    topic: str
    stamp_ns: int
    back_s: float
    first: bool = True


@dataclass(frozen=True)
class Burst:
    """``topic`` arrived at ``rate_hz``, ``factor`` times its usual rate."""

    topic: str
    rate_hz: float
    factor: float


class StampWatch:
    """Arrivals of the topics of one synchronised set (see the module docstring). Not thread-safe: one
    executor thread calls it."""

    def __init__(
        self,
        topics: tuple[str, ...],
        *,
        silence_s: float = 2.0,
        burst_factor: float = 3.0,
        burst_window_s: float = 1.0,
        history: int = 200,
    ) -> None:
        self.topics = topics
        self.silence_s = silence_s
        self.burst_factor = burst_factor
        self.burst_window_s = burst_window_s
        self.last_stamp_ns: dict[str, int] = {}
        self.last_arrival_s: dict[str, float] = {}
        self.arrivals: dict[str, deque[float]] = {topic: deque(maxlen=history) for topic in topics}
        self.silent: set[str] = set()
        self._bursting: set[str] = set()
        self._restart_ns: int | None = None

    def arrived(self, topic: str, stamp_ns: int, now_s: float) -> list[StampJump | Burst]:
        """Note one message; returns what it reveals (a backward jump, the start of a burst)."""
        events: list[StampJump | Burst] = []
        previous = self.last_stamp_ns.get(topic)
        if previous is not None and stamp_ns < previous:
            first = self._restart_ns is None or abs(stamp_ns - self._restart_ns) > SAME_RESTART_NS
            if first:
                self._restart_ns = stamp_ns
            events.append(StampJump(topic, stamp_ns, (previous - stamp_ns) / 1e9, first))
        self.last_stamp_ns[topic] = stamp_ns
        self.last_arrival_s[topic] = now_s
        arrivals = self.arrivals[topic]
        arrivals.append(now_s)
        burst = self._burst(topic, now_s)
        if burst is not None and not self._bursting:  # once per burst of the set, not once per topic
            events.append(burst)
        if burst is None:
            self._bursting.discard(topic)
        else:
            self._bursting.add(topic)
        return events

    def usual_rate_hz(self, topic: str, now_s: float) -> float | None:
        """The topic's median rate before the last ``burst_window_s`` (None with too few arrivals)."""
        before = [t for t in self.arrivals[topic] if t < now_s - self.burst_window_s]
        if len(before) < 5:
            return None
        gaps = np.diff(before)
        gap = float(np.median(gaps))
        return 1.0 / gap if gap > 0 else None

    def _burst(self, topic: str, now_s: float) -> Burst | None:
        usual = self.usual_rate_hz(topic, now_s)
        if usual is None:
            return None
        recent = sum(1 for t in self.arrivals[topic] if t >= now_s - self.burst_window_s)
        rate = recent / self.burst_window_s
        return Burst(topic, rate, rate / usual) if rate > self.burst_factor * usual else None

    def check_silence(self, now_s: float) -> tuple[list[tuple[str, float]], list[str]]:
        """(topics newly silent with their silence in seconds, topics back) while another topic of the set
        keeps arriving; a topic that never arrived counts as silent only once another has."""
        if not np.isfinite(self.silence_s):
            return [], []
        arriving = [t for t in self.topics if now_s - self.last_arrival_s.get(t, -np.inf) < self.silence_s]
        began, ended = [], []
        for topic in self.topics:
            last = self.last_arrival_s.get(topic)
            quiet_s = now_s - last if last is not None else None
            silent = bool(arriving) and topic not in arriving and (quiet_s is None or quiet_s >= self.silence_s)
            if silent and topic not in self.silent:
                self.silent.add(topic)
                began.append((topic, quiet_s if quiet_s is not None else float("inf")))
            elif not silent and topic in self.silent and topic in arriving:
                self.silent.discard(topic)
                ended.append(topic)
        return began, ended

    def rates_hz(self, now_s: float, window_s: float = 5.0) -> dict[str, float]:
        """Each topic's arrivals per second over the last ``window_s``."""
        return {
            topic: sum(1 for t in arrivals if t >= now_s - window_s) / window_s
            for topic, arrivals in self.arrivals.items()
        }


def stale_after(queue: dict[int, object], stamp_ns: int, slop_ns: int) -> list[int]:
    """Keys of a synchroniser queue (stamp -> message) stamped after ``stamp_ns + slop_ns``: what a
    restarted stream will never match."""
    return [key for key in queue if key > stamp_ns + slop_ns]
