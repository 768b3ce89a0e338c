"""Monocular (left-only) recordings replay: no stereo prior, fusion or odometry; the time baselines by hand."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from stereo_nerf_core.config import PipelineConfig, load_config
from stereo_nerf_core.eval.image_metrics import psnr
from stereo_nerf_core.importers.cli import run_import
from stereo_nerf_core.importers.endonerf import load_endonerf
from stereo_nerf_core.importers.writer import ImportOptions, write_recording
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.errors import BagError
from stereo_nerf_core.io.messages import image_to_rgb
from stereo_nerf_core.pipeline.outputs import read_depth_png
from stereo_nerf_core.pipeline.replay import run_replay
from stereo_nerf_core.spine.frames import FrameAssembler, is_monocular
from tests.conftest import REPLAY_CONFIG
from tests.importers.helpers import messages_by_topic, texture, write_endonerf

W, H, FRAMES, FPS = 64, 48, 17, 5.0


def _sliding_video(path: Path) -> Path:
    """A static camera over a texture sliding 1 px a frame to the right (the "tissue" moves)."""
    wide = texture(W + FRAMES, H, seed=3)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (W, H))
    assert writer.isOpened()
    for index in range(FRAMES):
        writer.write(np.ascontiguousarray(wide[:, FRAMES - index : FRAMES - index + W, ::-1]))
    writer.release()
    return path


def _config(methods: list[str]) -> PipelineConfig:
    config = load_config(REPLAY_CONFIG)
    replay = dataclasses.replace(
        config.replay, methods=methods, train_steps=60, train_seconds=30.0, timeline_every=0, turntable_views=0
    )
    scene = dataclasses.replace(config.scene, min_depth_m=0.05, max_depth_m=0.15)
    return dataclasses.replace(config, replay=replay, scene=scene)


@pytest.fixture(scope="module")
def video_bag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("video")
    run_import("video", _sliding_video(root / "clip.avi"), root / "bag", ImportOptions(progress=False), fx=60.0)
    return root / "bag"


def test_a_monocular_bag_gives_left_only_frames(video_bag: Path) -> None:
    assert is_monocular(video_bag)
    frames = list(FrameAssembler(load_config(REPLAY_CONFIG).sync, monocular=True).frames_from_bag(video_bag))
    assert [frame.index for frame in frames] == list(range(FRAMES))
    assert all(frame.right is None and frame.T_world_left is not None for frame in frames)
    with pytest.raises(BagError, match=r"frame 0 .* has no /stereo/right/image_raw \(a monocular recording\)"):
        frames[0].stereo()


def test_a_static_video_replays_left_only_with_the_time_baselines(video_bag: Path, tmp_path: Path) -> None:
    config = _config(["deformable"])
    summary = run_replay(video_bag, config, tmp_path / "out", progress=False)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert summary.complete and metrics["frames"]["processed"] == FRAMES
    assert list(metrics["methods"]) == ["nearest_frame", "neighbour_blend", "deformable"]
    notes = " ".join(metrics["notes"])
    assert "Monocular recording" in notes and "Left out without a depth prior: stereo_prior." in notes
    # the baselines by hand, on the bag's own (decoded) frames: held out 0, 8 and 16 (replay.held_out_every 8)
    images = [image_to_rgb(m.msg).astype(np.float32) / 255.0 for m in messages_by_topic(video_bag)[topics.LEFT_IMAGE]]
    neighbours = {0: [1], 8: [7, 9], 16: [15]}
    blend = np.mean([psnr(np.mean([images[k] for k in ks], axis=0), images[i]) for i, ks in neighbours.items()])
    nearest = np.mean([psnr(images[ks[0]], images[i]) for i, ks in neighbours.items()])
    held = {name: metrics["methods"][name]["novel_views"]["held_out"]["all"] for name in metrics["methods"]}
    assert held["neighbour_blend"]["psnr_db"] == pytest.approx(blend, abs=1e-3)
    assert held["nearest_frame"]["psnr_db"] == pytest.approx(nearest, abs=1e-3)
    assert blend > nearest + 1.0  # the mean of the two neighbours halves a 1 px slide's error
    trained = metrics["methods"]["deformable"]
    assert trained["training"]["steps"] > 0 and np.isfinite(held["deformable"]["psnr_db"]), trained


def test_a_monocular_bag_with_a_depth_prior_uses_it(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    write_recording(load_endonerf(write_endonerf(tmp_path / "endonerf")), bag, ImportOptions(progress=False))
    config = _config(["stereo_prior"])
    run_replay(bag, config, tmp_path / "out", progress=False)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert list(metrics["methods"]) == ["nearest_frame", "neighbour_blend", "stereo_prior"]
    assert "its /stereo/left/depth_prior as the prior" in " ".join(metrics["notes"])
    depth = read_depth_png(sorted((tmp_path / "out" / "depth_prior").glob("*.png"))[2])
    assert depth[10, 10] == pytest.approx(0.082) and depth[0, 0] == 0  # 82 mm, none at the PNG's hole
