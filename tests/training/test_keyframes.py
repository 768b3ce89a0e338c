"""TrainingKeyframe validation and the bounded, thread-safe KeyframeBuffer."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import KeyframeBuffer, TrainingKeyframe
from tests.training.scenes import K, plane_keyframe


def _keyframe(index: int = 0, **changes: object) -> TrainingKeyframe:
    values: dict[str, object] = dict(
        index=index,
        stamp_ns=index,
        rgb=np.zeros((4, 5, 3), np.uint8),
        depth=np.full((4, 5), 0.08, np.float32),
        confidence=np.ones((4, 5), np.float32),
        valid=np.ones((4, 5), bool),
        K=K,
        T_world_camera=np.eye(4),
    )
    values.update(changes)
    return TrainingKeyframe(**values)  # type: ignore[arg-type]


def test_nan_and_negative_depth_become_no_depth_with_zero_confidence() -> None:
    depth = np.full((4, 5), 0.08, np.float32)
    depth[0, 0], depth[1, 1], depth[2, 2] = np.nan, -1.0, np.inf
    confidence = np.full((4, 5), 2.0, np.float32)
    confidence[3, 3] = np.nan
    keyframe = _keyframe(depth=depth, confidence=confidence)
    assert keyframe.depth[0, 0] == 0 and keyframe.depth[1, 1] == 0 and keyframe.depth[2, 2] == 0
    assert keyframe.confidence[0, 0] == 0 and keyframe.confidence[1, 1] == 0 and keyframe.confidence[3, 3] == 0
    assert keyframe.confidence.max() == 1.0  # clipped into [0, 1]
    assert keyframe.depth.dtype == np.float32 and keyframe.confidence.dtype == np.float32


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rgb": np.zeros((4, 5, 3), np.float32)}, "rgb must be uint8"),
        ({"rgb": np.zeros((4, 5), np.uint8)}, r"rgb must be uint8 \(H, W, 3\)"),
        ({"depth": np.zeros((5, 4), np.float32)}, r"depth must have the image's shape \(4, 5\)"),
        ({"confidence": np.zeros((4, 4), np.float32)}, "confidence must have the image's shape"),
        ({"valid": np.ones((4, 5), np.uint8)}, "valid must be a bool mask"),
        ({"K": np.eye(2)}, r"K must be a finite \(3, 3\) matrix"),
        ({"K": np.zeros((3, 3))}, "positive focal lengths"),
        ({"T_world_camera": np.full((4, 4), np.nan)}, "T_world_camera must be a finite"),
        ({"T_world_camera": np.diag([2.0, 1.0, 1.0, 1.0])}, "must be a rigid transform"),
        ({"right_rgb": np.zeros((4, 5, 3), np.uint8)}, "needs a positive baseline_m"),
        ({"right_rgb": np.zeros((4, 4, 3), np.uint8), "baseline_m": 0.004}, "right_rgb must be uint8"),
        ({"right_valid": np.ones((4, 5), bool)}, "right_valid given without right_rgb"),
    ],
)
def test_bad_keyframes_are_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        _keyframe(0, **changes)


def test_right_camera_sits_a_baseline_along_the_left_x_axis() -> None:
    keyframe = _keyframe(right_rgb=np.zeros((4, 5, 3), np.uint8), baseline_m=0.004)
    assert keyframe.binocular and keyframe.right_valid is not None and keyframe.right_valid.all()
    np.testing.assert_allclose(keyframe.T_world_right[:3, 3], [0.004, 0.0, 0.0])
    with pytest.raises(TrainingError, match="no baseline_m"):
        _ = _keyframe().T_world_right


def test_buffer_drops_the_oldest_beyond_capacity_and_counts_it() -> None:
    buffer = KeyframeBuffer(3)
    dropped = [buffer.append(_keyframe(index)) for index in range(5)]
    assert [k.index for k in buffer.snapshot()] == [2, 3, 4]
    assert buffer.dropped == 2 and [d.index if d else None for d in dropped] == [None, None, None, 0, 1]
    # an index already buffered is replaced in place, not appended
    assert buffer.append(_keyframe(3, stamp_ns=99)) is None
    assert [(k.index, k.stamp_ns) for k in buffer.snapshot()] == [(2, 2), (3, 99), (4, 4)]
    assert buffer.replace(_keyframe(4, stamp_ns=7)) and not buffer.replace(_keyframe(0))
    with pytest.raises(TrainingError, match="capacity must be >= 1"):
        KeyframeBuffer(0)
    with pytest.raises(TrainingError, match="takes TrainingKeyframe objects"):
        buffer.append("frame")  # type: ignore[arg-type]


def test_buffer_is_thread_safe_while_snapshots_are_taken() -> None:
    buffer = KeyframeBuffer(16)
    template = plane_keyframe(0)
    writers, per_writer = 4, 50
    seen_sizes: list[int] = []
    done = threading.Event()

    def write(offset: int) -> None:
        for index in range(per_writer):
            buffer.append(_keyframe(offset * 1000 + index, rgb=template.rgb[:4, :5].copy()))

    def read() -> None:
        while not done.is_set():
            snapshot = buffer.snapshot()
            seen_sizes.append(len(snapshot))
            assert len({k.index for k in snapshot}) == len(snapshot)

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(offset,)) for offset in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    assert len(buffer) == 16 and buffer.dropped == writers * per_writer - 16
    assert max(seen_sizes) <= 16
