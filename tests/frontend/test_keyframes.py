"""Keyframe selection on hand-made trajectories and images; the bounded, thread-safe keyframe buffer."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from stereo_nerf_core.config import KeyframeConfig
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.keyframes import (
    KeyframeBuffer,
    KeyframeSelector,
    is_blurred,
    needs_keyframe,
    pose_change,
    sharpness,
)
from stereo_nerf_core.geometry.transforms import make_se3, rotation_about_axis


def _texture(seed: int = 3) -> np.ndarray:
    noise = np.random.default_rng(seed).uniform(0, 255, (96, 128)).astype(np.float32)
    return cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 1.0), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def test_pose_change_measures_translation_and_rotation() -> None:
    a = make_se3(np.eye(3), [0.01, 0, 0])
    b = make_se3(rotation_about_axis([0, 1, 0], np.deg2rad(7.0)), [0.01, 0.003, 0.004])
    translation, rotation = pose_change(a, b)
    assert translation == pytest.approx(0.005) and rotation == pytest.approx(7.0)
    with pytest.raises(FrontendError, match=r"\(4, 4\)"):
        pose_change(np.eye(3), np.eye(4))


def test_keyframes_exactly_where_the_translation_threshold_is_crossed() -> None:
    config = KeyframeConfig(min_translation_m=0.0025, min_rotation_deg=90.0, min_overlap=0.0)
    selector = KeyframeSelector(config)
    decisions = [selector.consider(make_se3(np.eye(3), [0.001 * i, 0, 0])) for i in range(10)]
    # 1 mm per frame, threshold 2.5 mm from the LAST keyframe: frames 0, 3, 6, 9
    assert [i for i, d in enumerate(decisions) if d.is_keyframe] == [0, 3, 6, 9]
    assert [d.reason for d in decisions if d.is_keyframe] == ["first", "translation", "translation", "translation"]
    assert decisions[5].translation_m == pytest.approx(0.002)


def test_keyframes_exactly_where_the_rotation_and_overlap_thresholds_are_crossed() -> None:
    selector = KeyframeSelector(KeyframeConfig(min_translation_m=1.0, min_rotation_deg=2.5, min_overlap=0.0))
    poses = [make_se3(rotation_about_axis([0, 0, 1], np.deg2rad(1.0 * i)), np.zeros(3)) for i in range(8)]
    picked = [i for i, pose in enumerate(poses) if selector.consider(pose).is_keyframe]
    assert picked == [0, 3, 6]

    selector = KeyframeSelector(KeyframeConfig(min_translation_m=1.0, min_rotation_deg=90.0, min_overlap=0.6))
    overlaps = [1.0, 0.9, 0.7, 0.61, 0.59, 0.95, 0.5]
    decisions = [selector.consider(np.eye(4), overlap=o) for o in overlaps]
    assert [i for i, d in enumerate(decisions) if d.is_keyframe] == [0, 4, 6]
    assert decisions[4].reason == "overlap"
    assert needs_keyframe(0.0, 0.0, 0.6, KeyframeConfig(min_overlap=0.6)) == ""


def test_a_blurred_frame_is_rejected_and_the_next_sharp_one_taken() -> None:
    sharp = _texture()
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    assert sharpness(blurred) < 0.2 * sharpness(sharp)
    config = KeyframeConfig(min_translation_m=0.0025, min_rotation_deg=90.0, min_overlap=0.0)
    selector = KeyframeSelector(config)
    images = [sharp, sharp, sharp, blurred, sharp, sharp]
    decisions = [
        selector.consider(make_se3(np.eye(3), [0.001 * i, 0, 0]), image=image) for i, image in enumerate(images)
    ]
    # frame 3 crosses the threshold but is blurred; frame 4 (4 mm from keyframe 0) is taken instead
    assert decisions[3].reason == "blurred" and not decisions[3].is_keyframe
    assert [i for i, d in enumerate(decisions) if d.is_keyframe] == [0, 4]
    assert decisions[4].reason == "translation" and decisions[4].translation_m == pytest.approx(0.004)


def test_blur_thresholds_relative_and_absolute() -> None:
    assert is_blurred(40.0, [100.0, 110.0, 90.0], relative_threshold=0.5)
    assert not is_blurred(60.0, [100.0, 110.0, 90.0], relative_threshold=0.5)
    assert not is_blurred(60.0, [], relative_threshold=0.5)  # nothing to compare with yet
    assert is_blurred(60.0, [], relative_threshold=0.5, absolute_threshold=80.0)
    selector = KeyframeSelector(KeyframeConfig(blur_absolute_threshold=1e9))
    first = selector.consider(np.eye(4), image=_texture())
    assert first.reason == "blurred" and not first.is_keyframe


def test_buffer_drops_the_oldest_beyond_capacity() -> None:
    buffer: KeyframeBuffer[int] = KeyframeBuffer(3)
    dropped = [buffer.push(i) for i in range(5)]
    assert dropped == [None, None, None, 0, 1]
    assert buffer.snapshot() == [2, 3, 4] and buffer.latest() == 4 and len(buffer) == 3 and buffer.dropped == 2
    buffer.clear()
    assert len(buffer) == 0 and buffer.latest() is None and buffer.dropped == 2
    with pytest.raises(FrontendError, match="capacity must be >= 1"):
        KeyframeBuffer(0)


def test_buffer_is_thread_safe() -> None:
    buffer: KeyframeBuffer[tuple[int, int]] = KeyframeBuffer(50)

    def producer(thread: int) -> None:
        for i in range(2000):
            buffer.push((thread, i))
            buffer.snapshot() if i % 100 == 0 else None

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    items = buffer.snapshot()
    assert len(items) == 50 and buffer.dropped == 4 * 2000 - 50
    for t in range(4):  # each producer's items stay in order
        mine = [i for owner, i in items if owner == t]
        assert mine == sorted(mine)


def test_keyframe_parameters_are_range_checked() -> None:
    with pytest.raises(ConfigError, match=r"keyframes\.min_overlap"):
        KeyframeConfig(min_overlap=1.5)
    with pytest.raises(ConfigError, match=r"keyframes\.buffer_capacity"):
        KeyframeConfig(buffer_capacity=0)
