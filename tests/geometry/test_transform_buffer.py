"""The frame tree: chains composed, dynamic edges interpolated at any stamp, late samples waited for."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.transform_buffer import TransformBuffer, TransformError, TransformNotYetError
from stereo_nerf_core.geometry.transforms import interpolate_se3, invert_se3, make_se3, rotation_about_axis

S = 1_000_000_000


def _pose(angle: float, x: float) -> np.ndarray:
    return make_se3(rotation_about_axis([0.0, 0.0, 1.0], angle), [x, 0.1, 0.0])


def test_interpolation_is_slerp_and_lerp() -> None:
    halfway = interpolate_se3(_pose(0.0, 0.0), _pose(0.4, 2.0), 0.5)
    np.testing.assert_allclose(halfway, _pose(0.2, 1.0), atol=1e-12)
    np.testing.assert_allclose(interpolate_se3(_pose(0.1, 1.0), _pose(0.3, 3.0), 0.0), _pose(0.1, 1.0), atol=1e-12)


def test_a_three_link_chain_composes_at_any_stamp() -> None:
    buffer = TransformBuffer()
    for stamp, angle in ((0, 0.0), (S, 0.2)):
        buffer.set_transform("world", "base", stamp, _pose(angle, 0.0))
    for stamp, x in ((0, 1.0), (2 * S, 3.0)):  # another rate
        buffer.set_transform("base", "arm", stamp, _pose(0.0, x))
    tip = make_se3(np.eye(3), [0.0, 0.0, 0.5])
    buffer.set_transform("arm", "camera", 0, tip, static=True)
    expected = _pose(0.1, 0.0) @ _pose(0.0, 1.5) @ tip  # base at 0.5 s: halfway; arm at 0.5 s: a quarter
    np.testing.assert_allclose(buffer.lookup("world", "camera", S // 2), expected, atol=1e-12)
    # the inverse direction and a lookup between siblings of the tree
    np.testing.assert_allclose(buffer.lookup("camera", "world", S // 2), invert_se3(expected), atol=1e-12)
    np.testing.assert_allclose(buffer.lookup("base", "camera", S // 2), _pose(0.0, 1.5) @ tip, atol=1e-12)


def test_missing_and_future_transforms_are_told_apart() -> None:
    buffer = TransformBuffer(history_s=2.0)
    buffer.set_transform("world", "camera", 0, np.eye(4))
    buffer.set_transform("world", "camera", S, np.eye(4))
    with pytest.raises(TransformNotYetError, match="newest sample at 1000000000 ns"):
        buffer.lookup("world", "camera", 2 * S)
    buffer.set_transform("robot", "tool", 0, np.eye(4))
    with pytest.raises(TransformNotYetError, match="their trees have the roots 'world' and 'robot'"):
        buffer.lookup("world", "tool", 0)
    buffer.set_transform("world", "camera", 5 * S, np.eye(4))  # the history keeps 2 s
    with pytest.raises(TransformError, match="oldest sample kept"):
        buffer.lookup("world", "camera", S // 2)
    with pytest.raises(GeometryError, match="finite"):
        buffer.set_transform("world", "camera", 0, np.full((4, 4), np.nan))


def test_a_late_transform_is_waited_for_a_bounded_time() -> None:
    buffer = TransformBuffer()
    buffer.set_transform("world", "camera", 0, _pose(0.0, 0.0))
    late = threading.Timer(0.2, lambda: buffer.set_transform("world", "camera", 2 * S, _pose(0.0, 2.0)))
    late.start()
    start = time.monotonic()
    np.testing.assert_allclose(buffer.wait_for("world", "camera", S, 5.0), _pose(0.0, 1.0), atol=1e-12)
    assert 0.15 < time.monotonic() - start < 4.0
    start = time.monotonic()
    with pytest.raises(TransformNotYetError):
        buffer.wait_for("world", "camera", 3 * S, 0.3)
    assert 0.25 < time.monotonic() - start < 2.0
