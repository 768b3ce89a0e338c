"""A tree of stamped frame transforms, as tf2's buffer keeps /tf and /tf_static, without ROS.

Robots publish their kinematic chain (``world -> base -> ... -> camera``) as separate edges, each at
its own rate, plus static edges. :class:`TransformBuffer` stores every edge (a child has one parent),
and :meth:`TransformBuffer.lookup` composes the chain between any two frames of the tree at a stamp,
interpolating each dynamic edge between its two nearest samples (slerp and lerp). Asking beyond an
edge's newest sample, or between frames not connected yet, raises :class:`TransformNotYetError` (a later
message may still bring it: the caller can :meth:`wait <TransformBuffer.wait_for>` a bounded time); a stamp
older than an edge's history raises :class:`TransformError`. Thread-safe.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.transforms import interpolate_se3, invert_se3

F64 = NDArray[np.float64]
DEFAULT_HISTORY_S = 10.0


class TransformError(GeometryError):
    """A transform cannot be had at this stamp, ever (frames not connected, stamp older than the history)."""


class TransformNotYetError(TransformError):
    """The frames are not connected yet, or an edge has no sample at or after the stamp yet (it may arrive)."""


@dataclass
class _Edge:
    parent: str
    static: bool
    stamps: list[int] = field(default_factory=list)
    poses: list[F64] = field(default_factory=list)

    def at(self, stamp: int, child: str) -> F64:
        if self.static:
            return self.poses[-1]
        index = bisect.bisect_left(self.stamps, stamp)
        if index < len(self.stamps) and self.stamps[index] == stamp:
            return self.poses[index]
        if index == len(self.stamps):
            raise TransformNotYetError(
                f"{self.parent} -> {child}: newest sample at {self.stamps[-1]} ns, asked for {stamp} ns"
            )
        if index == 0:
            raise TransformError(
                f"{self.parent} -> {child}: oldest sample kept is at {self.stamps[0]} ns, asked for {stamp} ns"
            )
        t0, t1 = self.stamps[index - 1], self.stamps[index]
        return interpolate_se3(self.poses[index - 1], self.poses[index], (stamp - t0) / (t1 - t0))


class TransformBuffer:
    """Stamped edges of a frame tree; see the module docstring."""

    def __init__(self, *, history_s: float = DEFAULT_HISTORY_S) -> None:
        self.history_ns = round(history_s * 1e9)
        self._edges: dict[str, _Edge] = {}
        self._changed = threading.Condition()

    def set_transform(
        self, parent: str, child: str, stamp_ns: int, T_parent_child: F64, *, static: bool = False
    ) -> None:
        """Add one sample of the edge ``parent`` <- ``child`` (a static edge keeps only its latest value).

        A child given a new parent is re-parented (as tf2 does); samples older than the history are dropped.
        """
        T = np.asarray(T_parent_child, dtype=np.float64)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise GeometryError(f"transform {parent} -> {child} must be a finite (4, 4) matrix")
        if not parent or not child or parent == child:
            raise GeometryError(f"a transform needs two different frame names, got {parent!r} -> {child!r}")
        with self._changed:
            edge = self._edges.get(child)
            if edge is None or edge.parent != parent or edge.static != static:
                edge = self._edges[child] = _Edge(parent, static)
            if static:
                edge.stamps, edge.poses = [stamp_ns], [T]
            else:
                index = bisect.bisect_left(edge.stamps, stamp_ns)
                if index < len(edge.stamps) and edge.stamps[index] == stamp_ns:
                    edge.poses[index] = T
                else:
                    edge.stamps.insert(index, stamp_ns)
                    edge.poses.insert(index, T)
                keep = bisect.bisect_left(edge.stamps, edge.stamps[-1] - self.history_ns)
                del edge.stamps[:keep], edge.poses[:keep]
            self._changed.notify_all()

    def _chain(self, frame: str) -> list[str]:
        """``frame`` and its ancestors, up to the root."""
        chain = [frame]
        while chain[-1] in self._edges:
            parent = self._edges[chain[-1]].parent
            if parent in chain:
                raise TransformError(f"the frames {chain} and {parent} form a loop")
            chain.append(parent)
        return chain

    def _to_ancestor(self, frames: list[str], stamp: int) -> F64:
        """T_ancestor_frame for the chain ``frames`` = [frame, parent, ..., ancestor]."""
        T = np.eye(4)
        for child in frames[:-1]:  # source first, then up the chain
            T = self._edges[child].at(stamp, child) @ T
        return T

    def lookup(self, target: str, source: str, stamp_ns: int) -> F64:
        """(4, 4) ``T_target_source`` at ``stamp_ns``: maps points of ``source`` into ``target``."""
        with self._changed:
            up_source, up_target = self._chain(source), self._chain(target)
            common = next((frame for frame in up_source if frame in up_target), None)
            if common is None:  # a link may still come (a robot driver starting after the camera)
                raise TransformNotYetError(
                    f"no transform between {target!r} and {source!r}: their trees have the roots "
                    f"{up_target[-1]!r} and {up_source[-1]!r}"
                )
            T_common_source = self._to_ancestor(up_source[: up_source.index(common) + 1], stamp_ns)
            T_common_target = self._to_ancestor(up_target[: up_target.index(common) + 1], stamp_ns)
            return invert_se3(T_common_target) @ T_common_source

    def wait_for(self, target: str, source: str, stamp_ns: int, timeout_s: float) -> F64:
        """:meth:`lookup`, waiting up to ``timeout_s`` for samples still to come; TransformError after that."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                try:
                    return self.lookup(target, source, stamp_ns)
                except TransformNotYetError:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise
                    self._changed.wait(remaining)

    def frames(self) -> set[str]:
        """Every frame the buffer knows."""
        with self._changed:
            return set(self._edges) | {edge.parent for edge in self._edges.values()}
