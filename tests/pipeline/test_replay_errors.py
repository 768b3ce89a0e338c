"""Bad input to the replay: each gets a clear error naming what was wrong, and computed work is kept."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.cli import main
from stereo_nerf_core.config import PipelineConfig, load_config
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES, BagWriter
from stereo_nerf_core.io.errors import BagError
from stereo_nerf_core.io.messages import array_to_image
from stereo_nerf_core.pipeline import replay as replay_module
from stereo_nerf_core.pipeline.errors import ReplayError
from stereo_nerf_core.pipeline.replay import run_replay
from stereo_nerf_core.pipeline.trainer_method import TrainerMethod
from stereo_nerf_core.synthetic.config import preset
from stereo_nerf_core.synthetic.recorder import record_synthetic_bag
from tests.conftest import REPLAY_CONFIG, SAMPLE_BAG, SHIPPED_METHODS, replay_yaml_with
from tests.pipeline.test_replay_methods import tiny_config


def front_end() -> PipelineConfig:
    """The shipped config replaying the front-end methods only (no training: these tests are about input)."""
    config = load_config(REPLAY_CONFIG)
    return replace(config, replay=replace(config.replay, methods=["stereo_prior", "tsdf_fusion"]))


@pytest.fixture(scope="module")
def tiny_sqlite_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bags") / "tiny"
    record_synthetic_bag(path, preset("tiny", storage="sqlite3", compression="none", frames=8))
    return path


def test_missing_bag_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(BagError, match=f"{tmp_path / 'nowhere'}: no such bag"):
        run_replay(tmp_path / "nowhere", load_config(REPLAY_CONFIG), tmp_path / "out")


def test_corrupt_files_name_the_path(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mcap"
    corrupt.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(BagError, match=r"corrupt\.mcap: cannot open bag"):
        run_replay(corrupt, load_config(REPLAY_CONFIG), tmp_path / "out")
    headed = tmp_path / "headed.mcap"  # an mcap header followed by noise: nothing readable
    headed.write_bytes(b"\x89MCAP0\r\n" + bytes(range(256)) * 8)
    with pytest.raises(ReplayError, match=r"headed\.mcap: bag has no messages on required topic"):
        run_replay(headed, load_config(REPLAY_CONFIG), tmp_path / "out")


def test_bag_without_camera_info_names_the_missing_topics(tmp_path: Path) -> None:
    bag = tmp_path / "no_info"
    image = np.zeros((16, 16, 3), np.uint8)
    with BagWriter(bag) as writer:
        for topic in (topics.LEFT_IMAGE, topics.RIGHT_IMAGE):
            msg = array_to_image(ROSBAGS_CLASSES, image, encoding="rgb8", stamp_ns=1, frame_id="cam")
            writer.write(topic, msg, 1)
    message = f"no messages on required topic\\(s\\) {topics.LEFT_CAMERA_INFO}, {topics.RIGHT_CAMERA_INFO}"
    with pytest.raises(ReplayError, match=message):
        run_replay(bag, load_config(REPLAY_CONFIG), tmp_path / "out")
    assert main(["replay", str(bag), "--config", str(REPLAY_CONFIG), "--out", str(tmp_path / "cli"), "--quiet"]) == 2


def test_a_message_broken_half_way_keeps_the_frames_before_it(tiny_sqlite_bag: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in tiny_sqlite_bag.iterdir():
        (broken / file.name).write_bytes(file.read_bytes())
    (database,) = broken.glob("*.db3")
    with sqlite3.connect(database) as connection:
        (topic_id,) = connection.execute("SELECT id FROM topics WHERE name = ?", (topics.LEFT_IMAGE,)).fetchone()
        rows = connection.execute("SELECT id FROM messages WHERE topic_id = ? ORDER BY timestamp", (topic_id,))
        fifth = [row[0] for row in rows][4]
        connection.execute("UPDATE messages SET data = ? WHERE id = ?", (b"\x00\x01garbage", fifth))
    out = tmp_path / "out"
    summary = run_replay(broken, front_end(), out, progress=False)
    assert not summary.complete
    assert (
        f"cannot deserialise a sensor_msgs/msg/Image message on topic {topics.LEFT_IMAGE}" in summary.metrics["error"]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["complete"] is False and 3 <= metrics["frames"]["processed"] <= 4
    assert len(list((out / "depth_prior").glob("*.png"))) == metrics["frames"]["processed"]
    assert "PARTIAL: the bag could not be read to the end" in (out / "report.md").read_text()
    assert metrics["methods"]["stereo_prior"]["depth"]["tissue"]["n_evaluated"] > 0


def test_interrupted_replay_writes_a_valid_partial_report(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    original = replay_module._process
    calls = {"n": 0}

    def interrupt_after_eight(*args: object) -> None:
        calls["n"] += 1
        if calls["n"] > 8:
            raise KeyboardInterrupt
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(replay_module, "_process", interrupt_after_eight)
    out = tmp_path / "out"
    code = main(["replay", str(SAMPLE_BAG), "--config", str(REPLAY_CONFIG), "--out", str(out), "--quiet"])
    assert code == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["frames"]["processed"] == 8
    assert metrics["frames"]["held_out"] == [0]  # fused: frames 1-7
    assert (out / "fused_mesh.ply").stat().st_size > 10_000
    assert metrics["methods"]["tsdf_fusion"]["depth"]["tissue"]["abs_rel"] < 0.05
    assert "PARTIAL: the replay was interrupted" in (out / "report.md").read_text()


def test_sigterm_writes_the_partial_report_as_ctrl_c_does(tmp_path: Path) -> None:
    config = replay_yaml_with(tmp_path / "front_end.yaml", SHIPPED_METHODS, "methods: [stereo_prior, tsdf_fusion]")
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "stereo_nerf_core",
        "replay",
        str(SAMPLE_BAG),
        "--config",
        str(config),
        "--out",
        str(out),
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while len(list((out / "depth_prior").glob("*.png"))) < 6 and process.poll() is None:
        assert time.monotonic() < deadline, "the replay wrote no depth after 240 s"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)  # what ros2 launch, Docker and systemd send
    output, _ = process.communicate(timeout=240)
    assert process.returncode == 3, output  # "incomplete", as after Ctrl-C
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and 6 <= metrics["frames"]["processed"] < 44
    assert metrics["methods"]["stereo_prior"]["depth"]["tissue"]["abs_rel"] < 0.012
    assert "PARTIAL: the replay was interrupted" in (out / "report.md").read_text()


def test_dropped_frames_are_counted(tmp_path: Path) -> None:
    bag = tmp_path / "drops"
    record_synthetic_bag(bag, preset("tiny", drop_rate=0.4, frames=10))
    summary = run_replay(bag, front_end(), tmp_path / "out", progress=False)
    frames = summary.metrics["frames"]
    assert frames["dropped_left"] + frames["dropped_right"] > 0
    assert frames["processed"] + max(frames["dropped_left"], frames["dropped_right"]) <= 10
    assert frames["processed"] >= 3


def test_a_cut_off_mcap_recording_is_replayed_up_to_the_cut(tmp_path: Path) -> None:
    bag = tmp_path / "cut"
    bag.mkdir()
    (source,) = SAMPLE_BAG.glob("*.mcap")
    (bag / "metadata.yaml").write_bytes((SAMPLE_BAG / "metadata.yaml").read_bytes())
    (bag / source.name).write_bytes(source.read_bytes()[:6_000_000])  # a recorder that lost power
    summary = run_replay(bag, front_end(), tmp_path / "out", progress=False)
    frames = summary.metrics["frames"]
    assert 5 <= frames["processed"] <= 12  # 6 of 24.6 MB: about a quarter of the 44 frames
    assert any("was cut off (no mcap footer)" in note for note in summary.metrics["notes"])
    assert summary.metrics["methods"]["stereo_prior"]["depth"]["tissue"]["abs_rel"] < 0.012


def test_interrupted_while_training_still_writes_every_method(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    original = TrainerMethod.advance

    def interrupt_at_the_end(self: TrainerMethod, progress: float) -> None:
        if progress >= 1.0 and self.name == "sdf":
            raise KeyboardInterrupt
        original(self, progress)

    monkeypatch.setattr(TrainerMethod, "advance", interrupt_at_the_end)
    summary = run_replay(SAMPLE_BAG, tiny_config(train_steps=10), tmp_path / "out", progress=False, max_frames=8)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert not summary.complete and metrics["interrupted"] is True and metrics["frames"]["processed"] == 8
    assert metrics["methods"]["nerf"]["training"]["steps"] == 10  # finished before the interruption
    assert metrics["methods"]["sdf"]["training"]["steps"] == 8  # round(0.75 * 10): its share after 6 of 8 frames
    assert metrics["methods"]["sdf"]["depth"]["tissue"]["n_evaluated"] > 0  # what it had is scored
    assert "PARTIAL: the replay was interrupted" in (tmp_path / "out" / "report.md").read_text()


def test_recorded_rate_playback_counts_the_frames_it_drops(tmp_path: Path) -> None:
    # 100x the recorded 10 Hz: a frame every millisecond, far faster than any stereo prior
    summary = run_replay(SAMPLE_BAG, front_end(), tmp_path / "out", progress=False, max_frames=10, rate=100.0)
    frames = summary.metrics["frames"]
    assert frames["dropped_by_rate"] > 0 and frames["processed"] + frames["dropped_by_rate"] == 10
    assert summary.metrics["rate"] == 100.0 and "by the rate" in summary.one_line()
