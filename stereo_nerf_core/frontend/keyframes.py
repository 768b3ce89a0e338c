"""Keyframe selection (motion, rotation and overlap thresholds; blur rejection) and a bounded keyframe buffer.

A frame becomes a keyframe when it has moved ``min_translation_m`` or turned ``min_rotation_deg``
from the last keyframe, or when its overlap with it (the share of the keyframe's features still
tracked) falls below ``min_overlap`` -- unless it is blurred: its sharpness (variance of the
Laplacian) is below ``blur_absolute_threshold`` or below ``blur_relative_threshold`` times the
median sharpness of the recent frames.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.config import KeyframeConfig
from stereo_nerf_core.frontend.errors import FrontendError

T = TypeVar("T")


def pose_change(T_world_a: ArrayLike, T_world_b: ArrayLike) -> tuple[float, float]:
    """(translation in metres, rotation in degrees) between two (4, 4) camera poses."""
    A = np.asarray(T_world_a, dtype=np.float64)
    B = np.asarray(T_world_b, dtype=np.float64)
    if A.shape != (4, 4) or B.shape != (4, 4):
        raise FrontendError(f"poses must be (4, 4) matrices, got {A.shape} and {B.shape}")
    R = A[:3, :3].T @ B[:3, :3]
    angle = float(np.degrees(np.arccos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0))))
    return float(np.linalg.norm(B[:3, 3] - A[:3, 3])), angle


def sharpness(image: NDArray[np.generic]) -> float:
    """Variance of the Laplacian of the grey image (H, W[, 3]), grey levels^2: low means blurred."""
    if image.ndim not in (2, 3) or image.size == 0:
        raise FrontendError(f"sharpness needs an (H, W) or (H, W, 3) image, got shape {image.shape}")
    grey = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    _, deviation = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_32F, ksize=3))
    return float(deviation[0, 0]) ** 2


def is_blurred(
    value: float, recent: Sequence[float], *, relative_threshold: float, absolute_threshold: float = 0.0
) -> bool:
    """Whether sharpness ``value`` is below ``absolute_threshold`` or ``relative_threshold`` x median(``recent``).

    With no recent values only the absolute test applies.
    """
    if value < absolute_threshold:
        return True
    return bool(len(recent) > 0 and value < relative_threshold * float(np.median(np.asarray(recent))))


@dataclass(frozen=True)
class KeyframeDecision:
    """Whether a frame becomes a keyframe, and why."""

    is_keyframe: bool
    reason: str
    """"first", "translation", "rotation", "overlap", "blurred" (rejected) or "" (no threshold crossed)."""
    translation_m: float
    rotation_deg: float
    overlap: float
    sharpness: float


def needs_keyframe(translation_m: float, rotation_deg: float, overlap: float, config: KeyframeConfig) -> str:
    """The first threshold crossed ("translation", "rotation", "overlap"), or "" when none is."""
    if translation_m >= config.min_translation_m:
        return "translation"
    if rotation_deg >= config.min_rotation_deg:
        return "rotation"
    if overlap < config.min_overlap:
        return "overlap"
    return ""


class KeyframeSelector:
    """Applies :func:`needs_keyframe` and the blur test to a stream of frames (not thread-safe; one per tracker)."""

    def __init__(self, config: KeyframeConfig) -> None:
        self.config = config
        self.keyframe_pose: NDArray[np.float64] | None = None
        self.recent_sharpness: deque[float] = deque(maxlen=config.blur_history)

    def consider(
        self, T_world_camera: ArrayLike, *, overlap: float = 1.0, image: NDArray[np.generic] | None = None
    ) -> KeyframeDecision:
        """Decide for one frame (pose (4, 4), overlap in [0, 1], optional image for the blur test).

        A keyframe's pose becomes the reference for the next decisions; every image's sharpness
        enters the recent history (blurred ones too, so a long blurred stretch is accepted again).
        """
        pose = np.asarray(T_world_camera, dtype=np.float64)
        value = sharpness(image) if image is not None else float("nan")
        blurred = image is not None and is_blurred(
            value,
            list(self.recent_sharpness),
            relative_threshold=self.config.blur_relative_threshold,
            absolute_threshold=self.config.blur_absolute_threshold,
        )
        if image is not None:
            self.recent_sharpness.append(value)
        if self.keyframe_pose is None:
            translation, rotation, reason = 0.0, 0.0, "first"
        else:
            translation, rotation = pose_change(self.keyframe_pose, pose)
            reason = needs_keyframe(translation, rotation, overlap, self.config)
        if blurred:
            return KeyframeDecision(False, "blurred", translation, rotation, overlap, value)
        if reason:
            self.keyframe_pose = pose.copy()
        return KeyframeDecision(bool(reason), reason, translation, rotation, overlap, value)

    def reset(self, T_world_keyframe: ArrayLike | None = None) -> None:
        """Forget the last keyframe (or make ``T_world_keyframe`` the last one); keeps the sharpness history."""
        self.keyframe_pose = None if T_world_keyframe is None else np.asarray(T_world_keyframe, np.float64).copy()


class KeyframeBuffer(Generic[T]):
    """A thread-safe buffer of the latest ``capacity`` keyframes; pushing beyond it drops the oldest."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise FrontendError(f"keyframe buffer capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self.dropped = 0
        """Keyframes dropped so far because the buffer was full."""

    def push(self, item: T) -> T | None:
        """Add ``item``; returns the keyframe dropped to make room, if any."""
        with self._lock:
            self._items.append(item)
            if len(self._items) > self.capacity:
                self.dropped += 1
                return self._items.popleft()
            return None

    def snapshot(self) -> list[T]:
        """The buffered keyframes, oldest first (a copy)."""
        with self._lock:
            return list(self._items)

    def latest(self) -> T | None:
        """The newest keyframe, or None when empty."""
        with self._lock:
            return self._items[-1] if self._items else None

    def clear(self) -> None:
        """Remove every keyframe (not counted as dropped)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
