"""Recording small synthetic bags: determinism, both storages, dropped frames, jitter, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import TYPESTORE
from stereo_nerf_core.io.messages import image_to_array, stamp_ns
from stereo_nerf_core.synthetic import (
    RecordingSummary,
    SyntheticConfig,
    frame_schedule,
    preset,
    record_synthetic_bag,
)
from stereo_nerf_core.synthetic.cli import main
from tests.synthetic.synthetic_helpers import messages_by_topic, tiny_config

IMAGE_TOPICS = [
    topics.LEFT_IMAGE,
    topics.RIGHT_IMAGE,
    topics.GROUND_TRUTH_LEFT_DEPTH,
    topics.LEFT_INSTRUMENT_MASK,
]


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, RecordingSummary]]:
    """Tiny bags: 'a' and 'a_again' (same seed), 'b' (other seed), 'sqlite3' and 'mcap_plain'."""
    root = tmp_path_factory.mktemp("synthetic_bags")
    configs = {
        "a": tiny_config(seed=11),
        "a_again": tiny_config(seed=11),
        "b": tiny_config(seed=12),
        "sqlite3": tiny_config(seed=11, storage="sqlite3"),
        "mcap_plain": tiny_config(seed=11, compression="none"),
    }
    return {
        name: (root / name, record_synthetic_bag(root / name, config)) for name, config in configs.items()
    }


def payloads(path: Path) -> dict[str, list[bytes]]:
    """Raw pixel bytes of the image topics."""
    return {
        topic: [bytes(msg.data) for _, msg in messages]
        for topic, messages in messages_by_topic(path, IMAGE_TOPICS).items()
    }


def test_same_seed_gives_identical_bytes_and_another_seed_differs(bags: dict[str, Any]) -> None:
    a, a_again, b = payloads(bags["a"][0]), payloads(bags["a_again"][0]), payloads(bags["b"][0])
    assert set(a) == set(IMAGE_TOPICS)
    assert a == a_again
    for topic in (topics.LEFT_IMAGE, topics.RIGHT_IMAGE):
        assert all(x != y for x, y in zip(a[topic], b[topic], strict=True))
        first_a = np.frombuffer(a[topic][0], np.uint8).astype(int)
        first_b = np.frombuffer(b[topic][0], np.uint8).astype(int)
        assert np.mean(np.abs(first_a - first_b)) > 5  # a different scene, not just different noise


@pytest.mark.parametrize("name", ["sqlite3", "mcap_plain"])
def test_storage_and_compression_variants_round_trip(bags: dict[str, Any], name: str) -> None:
    path, summary = bags[name]
    metadata = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["storage_identifier"] == summary.storage
    if name == "sqlite3":
        assert (path / "sqlite3.db3").exists() and metadata["compression_mode"] == "message"
    with AnyReader([path], default_typestore=TYPESTORE) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert (
        counts[topics.LEFT_IMAGE] == counts[topics.GROUND_TRUTH_POSE] == 8 and counts[topics.TF_STATIC] == 1
    )
    assert payloads(path) == payloads(bags["a"][0])
    # chunk-compressed mcap is smaller than the plain one, and both read back the same
    assert bags["a"][1].size_bytes < bags["mcap_plain"][1].size_bytes


def test_dropped_frames_leave_gaps_in_one_camera(tmp_path: Path) -> None:
    config = tiny_config(frames=16, drop_rate=0.4, instrument=False)
    schedule = frame_schedule(config)
    summary = record_synthetic_bag(tmp_path / "drops", config)
    messages = messages_by_topic(tmp_path / "drops")
    counts = {topic: len(items) for topic, items in messages.items()}
    assert counts[topics.LEFT_IMAGE] == summary.left_images == sum(not t.left_dropped for t in schedule)
    assert counts[topics.RIGHT_IMAGE] == summary.right_images == sum(not t.right_dropped for t in schedule)
    assert counts[topics.LEFT_IMAGE] + counts[topics.RIGHT_IMAGE] < 2 * config.frames
    assert counts[topics.LEFT_IMAGE] < config.frames and counts[topics.RIGHT_IMAGE] < config.frames
    assert counts[topics.LEFT_CAMERA_INFO] == counts[topics.LEFT_IMAGE] == counts[topics.LEFT_INSTRUMENT_MASK]
    assert counts[topics.RIGHT_CAMERA_INFO] == counts[topics.RIGHT_IMAGE]
    assert counts[topics.GROUND_TRUTH_LEFT_DEPTH] == counts[topics.GROUND_TRUTH_POSE] == config.frames
    # never both images of a frame; the stamps of what is left still pair up within the jitter
    assert not any(t.left_dropped and t.right_dropped for t in schedule)
    right_stamps = {stamp_ns(m.header) for _, m in messages[topics.RIGHT_IMAGE]}
    assert right_stamps == {t.right_stamp_ns for t in schedule if not t.right_dropped}


def test_stamps_jitter_within_a_millisecond_and_log_time_is_stamp() -> None:
    config = tiny_config(frames=200)
    schedule = frame_schedule(config)
    offsets = np.array([t.right_stamp_ns - t.left_stamp_ns for t in schedule])
    assert np.abs(offsets).max() <= 1_000_000 and np.abs(offsets).max() > 900_000
    assert abs(np.mean(offsets)) < 100_000 and np.std(offsets) > 400_000  # uniform in +-1 ms
    assert schedule[0].left_stamp_ns == 1_700_000_000_000_000_000
    assert frame_schedule(config) == schedule  # deterministic


def test_ground_truth_depth_is_metres_and_nan_free_on_tiny(bags: dict[str, Any]) -> None:
    path, summary = bags["a"]
    messages = messages_by_topic(path, [topics.GROUND_TRUTH_LEFT_DEPTH])[topics.GROUND_TRUTH_LEFT_DEPTH]
    depths = [image_to_array(m) for _, m in messages]
    assert all(d.dtype == np.float32 and d.shape == (104, 128) and np.isfinite(d).all() for d in depths)
    lo, hi = summary.tissue_depth_range_m
    assert 0.04 < lo < hi < 0.15
    assert summary.instrument_first_frame is not None and summary.instrument_first_frame > 0


def test_cli_records_a_bag_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli_bag"
    args = [str(out), "--preset", "tiny", "--frames", "2", "--width", "64", "--height", "52", "--seed", "3"]
    assert main([*args, "--no-progress", "--no-instrument", "--storage", "sqlite3", "--drop-rate", "0"]) == 0
    assert "2 frames 64x52" in capsys.readouterr().out
    with AnyReader([out], default_typestore=TYPESTORE) as reader:
        assert {c.topic: c.msgcount for c in reader.connections}[topics.RIGHT_IMAGE] == 2
    assert main([*args, "--no-progress"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main([str(tmp_path / "bad"), "--drop-rate", "1.5", "--no-progress"]) == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"width": 0},
        {"drop_rate": 1.0},
        {"fps": -1.0},
        {"storage": "rosbag1"},
        {"instrument_settle_fraction": 0.1},
    ],
)
def test_config_rejects_out_of_range_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        SyntheticConfig(**changes)


def test_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown synthetic preset"):
        preset("huge")
