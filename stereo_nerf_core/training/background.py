"""Running a trainer's steps on a background thread while keyframes keep arriving."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from stereo_nerf_core.training.errors import TrainingError

IDLE_CHECK_S = 1.0
"""While idle the loop sleeps until :meth:`BackgroundLoop.wake` (or this long, to look at ``idle()`` again)."""


class BackgroundLoop:
    """Calls ``step`` repeatedly on a daemon thread; sleeps while ``idle()`` is true until :meth:`wake`.

    An exception in ``step`` ends the loop and is re-raised by :meth:`stop` as a :class:`TrainingError`.
    """

    def __init__(self, step: Callable[[], object], idle: Callable[[], bool], *, name: str) -> None:
        self._step, self._idle, self._name = step, idle, name
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._error: BaseException | None = None
        self.steps = 0
        """Steps taken since the last :meth:`start`."""

    def start(self, *, on_start: Callable[[], object] | None = None) -> None:
        """Start the thread; raises when it is already running. ``on_start`` runs first on the new thread (its
        scheduling priority, say: threads the steps start, such as torch's pool, inherit it)."""
        if self.running:
            raise TrainingError("the trainer is already running")
        self._stop.clear()
        self._error = None
        self.steps = 0
        self._thread = threading.Thread(target=self._run, args=(on_start,), name=self._name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at ``idle()`` again now (new work arrived, or what held the loop back is done)."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the thread to stop after its current step and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise TrainingError(f"the training thread did not stop within {timeout_s} s")
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise TrainingError(f"background training failed: {error}") from error

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self, on_start: Callable[[], object] | None) -> None:
        try:
            if on_start is not None:
                on_start()
            while not self._stop.is_set():
                if self._idle():
                    self._wake.wait(IDLE_CHECK_S)
                    self._wake.clear()
                    continue
                self._step()
                self.steps += 1
        except BaseException as error:  # handed to stop()
            self._error = error


class RendersFirst:
    """One re-entrant lock over a model, where renders go before background work (training steps, mesh chunks).

    A plain lock is not fair: the training thread would take it back after every step and starve the renders.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        """Held during every step, render, refinement round and checkpoint."""
        self._renders_waiting = 0
        self._renders_done = threading.Condition()

    @contextlib.contextmanager
    def render(self) -> Iterator[None]:
        """The model for a render, before any background work waiting for it."""
        with self._renders_done:
            self._renders_waiting += 1
        try:
            with self.lock:
                yield
        finally:
            with self._renders_done:
                self._renders_waiting -= 1
                self._renders_done.notify_all()

    @contextlib.contextmanager
    def background(self) -> Iterator[None]:
        """The model for one slice of background work, once no render waits for it."""
        with self._renders_done:
            self._renders_done.wait_for(lambda: self._renders_waiting == 0)
        with self.lock:
            yield
