"""Keyframes as the front-end hands them to training, and the bounded, thread-safe buffer that holds them.

A :class:`TrainingKeyframe` is plain data on the rectified left grid: the image, the stereo depth
prior (Z in metres, 0 = none) with its confidence, the tissue mask (pixels that may drive the
losses: not specular, not instrument, not background), the rectified intrinsics and the pose
``T_world_camera`` (rectified left optical frame to world). For binocular training it may also
carry the rectified right image and the baseline: the right camera's pose is then
``T_world_left @ T_left_right`` with ``T_left_right`` the pure translation ``(+baseline_m, 0, 0)``.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.training.errors import TrainingError

Float = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class TrainingKeyframe:
    """One keyframe for training; validated and normalised on construction (raises :class:`TrainingError`).

    Arrays are converted to the documented dtypes; a NaN/inf/negative prior depth becomes 0 with
    confidence 0, and confidence is clipped to [0, 1] and set to 0 wherever there is no depth.
    Keyframes compare by identity (they hold arrays).
    """

    index: int
    """Frame index in the stream (identifies the keyframe: poses and checkpoints refer to it)."""
    stamp_ns: int
    """Stamp of the left image in nanoseconds."""
    rgb: NDArray[np.uint8]
    """(H, W, 3) rectified left image, RGB."""
    depth: NDArray[np.float32]
    """(H, W) prior depth, Z in metres along the rectified optical axis; 0 where none."""
    confidence: NDArray[np.float32]
    """(H, W) prior confidence in [0, 1]; 0 where there is no depth."""
    valid: NDArray[np.bool_]
    """(H, W) tissue mask: True where the pixel may drive the losses."""
    K: Float
    """(3, 3) rectified intrinsics."""
    T_world_camera: Float
    """(4, 4) pose of the rectified left optical frame in the world."""
    right_rgb: NDArray[np.uint8] | None = None
    """(H, W, 3) rectified right image for binocular training (same K as the left: zero-disparity rectification)."""
    baseline_m: float | None = None
    """Stereo baseline in metres (needed with ``right_rgb``)."""
    right_valid: NDArray[np.bool_] | None = None
    """(H, W) tissue mask of the right image; all True when None and ``right_rgb`` is given."""
    foreground: NDArray[np.bool_] | None = None
    """(H, W) object mask of the left image (True: object, False: background) for the mask loss; None: unknown."""

    def __post_init__(self) -> None:
        rgb = np.asarray(self.rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.size == 0:
            raise TrainingError(f"keyframe {self.index}: rgb must be uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
        shape = rgb.shape[:2]
        depth = _image(self.index, "depth", self.depth, shape).astype(np.float32)
        confidence = _image(self.index, "confidence", self.confidence, shape).astype(np.float32)
        has_depth = np.isfinite(depth) & (depth > 0)
        depth = np.where(has_depth, depth, 0.0).astype(np.float32)
        confidence = np.where(has_depth & np.isfinite(confidence), np.clip(confidence, 0.0, 1.0), 0.0)
        valid = _image(self.index, "valid", self.valid, shape)
        if valid.dtype != np.bool_:
            raise TrainingError(f"keyframe {self.index}: valid must be a bool mask, got {valid.dtype}")
        object.__setattr__(self, "rgb", np.ascontiguousarray(rgb))
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "confidence", confidence.astype(np.float32))
        object.__setattr__(self, "valid", np.ascontiguousarray(valid))
        object.__setattr__(self, "K", _matrix(self.index, "K", self.K, (3, 3)))
        object.__setattr__(self, "T_world_camera", _pose(self.index, self.T_world_camera))
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise TrainingError(f"keyframe {self.index}: K must have positive focal lengths, got {self.K.tolist()}")
        if self.foreground is not None:
            foreground = _image(self.index, "foreground", self.foreground, shape)
            if foreground.dtype != np.bool_:
                raise TrainingError(f"keyframe {self.index}: foreground must be a bool mask, got {foreground.dtype}")
            object.__setattr__(self, "foreground", np.ascontiguousarray(foreground))
        self._check_right(shape)

    def _check_right(self, shape: tuple[int, ...]) -> None:
        if self.right_rgb is None:
            if self.right_valid is not None:
                raise TrainingError(f"keyframe {self.index}: right_valid given without right_rgb")
            return
        right = np.asarray(self.right_rgb)
        if right.shape != (*shape, 3) or right.dtype != np.uint8:
            raise TrainingError(
                f"keyframe {self.index}: right_rgb must be uint8 {(*shape, 3)} like rgb, "
                f"got {right.dtype} {right.shape}"
            )
        if self.baseline_m is None or not (np.isfinite(self.baseline_m) and self.baseline_m > 0):
            raise TrainingError(f"keyframe {self.index}: right_rgb needs a positive baseline_m, got {self.baseline_m}")
        object.__setattr__(self, "baseline_m", float(self.baseline_m))
        right_valid = np.ones(shape, bool) if self.right_valid is None else _image(
            self.index, "right_valid", self.right_valid, shape
        )
        if right_valid.dtype != np.bool_:
            raise TrainingError(f"keyframe {self.index}: right_valid must be a bool mask, got {right_valid.dtype}")
        object.__setattr__(self, "right_rgb", np.ascontiguousarray(right))
        object.__setattr__(self, "right_valid", np.ascontiguousarray(right_valid))

    @property
    def height(self) -> int:
        """Image height in pixels."""
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        """Image width in pixels."""
        return int(self.rgb.shape[1])

    @property
    def binocular(self) -> bool:
        """Whether the keyframe carries a right image."""
        return self.right_rgb is not None

    @property
    def T_world_right(self) -> Float:
        """(4, 4) pose of the rectified right optical frame: ``T_world_left @ T_left_right``."""
        if self.baseline_m is None:
            raise TrainingError(f"keyframe {self.index} has no baseline_m, so no right camera")
        return self.T_world_camera @ right_from_left(self.baseline_m)

    def with_prior(self, depth: NDArray[np.float32], confidence: NDArray[np.float32]) -> TrainingKeyframe:
        """A copy with another prior (used by depth refinement)."""
        return replace(self, depth=depth, confidence=confidence)


def right_from_left(baseline_m: float) -> Float:
    """``T_left_right`` (4, 4) of a rectified pair: the right camera sits ``baseline_m`` along the left x axis."""
    T = np.eye(4)
    T[0, 3] = baseline_m
    return T


def _image(index: int, name: str, values: object, shape: tuple[int, ...]) -> NDArray[np.generic]:
    array = np.asarray(values)
    if array.shape != shape:
        raise TrainingError(f"keyframe {index}: {name} must have the image's shape {shape}, got {array.shape}")
    return array


def _matrix(index: int, name: str, values: object, shape: tuple[int, int]) -> Float:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise TrainingError(f"keyframe {index}: {name} must be a finite {shape} matrix, got shape {array.shape}")
    return array.copy()


def _pose(index: int, values: object) -> Float:
    T = _matrix(index, "T_world_camera", values, (4, 4))
    R = T[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-5) or not np.allclose(T[3], [0, 0, 0, 1]):
        raise TrainingError(f"keyframe {index}: T_world_camera must be a rigid transform")
    return T


class KeyframeBuffer:
    """The latest ``capacity`` keyframes, thread-safe: the front-end appends while training samples.

    Appending beyond the capacity drops the oldest keyframe and counts it in :attr:`dropped`.
    :meth:`snapshot` returns an immutable tuple, so sampling never sees a half-updated buffer.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise TrainingError(f"keyframe buffer capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: deque[TrainingKeyframe] = deque()
        self._lock = threading.Lock()
        self._dropped = 0
        self._version = 0

    def append(self, keyframe: TrainingKeyframe) -> TrainingKeyframe | None:
        """Add a keyframe (an index already present is replaced in place); returns the one dropped, if any."""
        if not isinstance(keyframe, TrainingKeyframe):
            raise TrainingError(f"the keyframe buffer takes TrainingKeyframe objects, got {type(keyframe).__name__}")
        with self._lock:
            self._version += 1
            for position, item in enumerate(self._items):
                if item.index == keyframe.index:
                    self._items[position] = keyframe
                    return None
            self._items.append(keyframe)
            if len(self._items) > self.capacity:
                self._dropped += 1
                return self._items.popleft()
            return None

    def replace(self, keyframe: TrainingKeyframe) -> bool:
        """Swap in a new version of a buffered keyframe (same index); False when it was dropped meanwhile."""
        with self._lock:
            for position, item in enumerate(self._items):
                if item.index == keyframe.index:
                    self._items[position] = keyframe
                    self._version += 1
                    return True
            return False

    def snapshot(self) -> tuple[TrainingKeyframe, ...]:
        """The buffered keyframes, oldest first."""
        with self._lock:
            return tuple(self._items)

    @property
    def dropped(self) -> int:
        """Keyframes dropped so far because the buffer was full."""
        with self._lock:
            return self._dropped

    @property
    def version(self) -> int:
        """Increases with every change (lets samplers cache per-snapshot tables)."""
        with self._lock:
            return self._version

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
