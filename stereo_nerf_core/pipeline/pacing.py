"""Recorded-rate playback: frames arrive on the clock of their stamps and a busy pipeline drops some.

With ``--rate R`` frame ``f`` arrives ``(stamp_f - stamp_first) / R`` seconds after the first one.
Like a live node with a one-deep queue, the pipeline takes the newest frame that has arrived when it
becomes free: a frame whose successor has already arrived by then is dropped (and counted); when the
pipeline is early it waits for the frame's arrival.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from stereo_nerf_core.pipeline.errors import ReplayError
from stereo_nerf_core.spine.frames import StereoFrame


def paced(
    frames: Iterable[StereoFrame],
    rate: float,
    dropped: list[int],
    *,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[StereoFrame]:
    """The frames a pipeline running at recorded ``rate`` would take; the indices of the others go to ``dropped``."""
    if not rate > 0:
        raise ReplayError(f"--rate must be > 0 (1.0 = recorded rate), got {rate}")
    stream = iter(frames)
    pending = next(stream, None)
    if pending is None:
        return
    start_clock, start_stamp = clock(), pending.stamp_ns

    def arrival(frame: StereoFrame) -> float:
        return start_clock + (frame.stamp_ns - start_stamp) / 1e9 / rate

    while pending is not None:
        following = next(stream, None)
        now = clock()
        if following is not None and arrival(following) <= now:
            dropped.append(pending.index)
        else:
            wait = arrival(pending) - now
            if wait > 0:
                sleep(wait)
            yield pending
        pending = following
