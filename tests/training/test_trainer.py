"""Trainer on a small analytic scene: errors, training, checkpoints, background thread, refinement, poses."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.geometry.transforms import make_se3, rotation_about_axis
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.export import pose_report
from stereo_nerf_core.training.refinement import invalid_prior
from stereo_nerf_core.training.trainer import Trainer
from tests.training.scenes import K, plane_keyframe, pose, small_config


@pytest.fixture(scope="module")
def trained() -> Trainer:
    trainer = Trainer(small_config(), device="auto")
    for index in range(6):
        trainer.add_keyframe(plane_keyframe(index))
    trainer.train(max_steps=120)
    return trainer


def test_empty_buffer_and_unbuilt_model_are_clear_errors() -> None:
    trainer = Trainer(small_config(), device="cpu")
    with pytest.raises(TrainingError, match="keyframe buffer is empty"):
        trainer.step()
    with pytest.raises(TrainingError, match="model is not built yet"):
        trainer.render(K, np.eye(4), 8, 8)
    with pytest.raises(TrainingError, match="nothing to save yet"):
        trainer.save(Path("/nonexistent/never.pt"))
    with pytest.raises(TrainingError, match="needs max_steps and/or budget_s"):
        trainer.train()
    with pytest.raises(ConfigError, match=r"trainer\.mode must be one of \[.*'nerf', 'sdf'\], got 'gaussians'"):
        Trainer(TrainerConfig(mode="gaussians"))
    with pytest.raises(ConfigError, match=r"trainer.mask_guide_sample_rate = 1.5 is out of range"):
        TrainerConfig(mask_guide_sample_rate=1.5)


def test_device_auto_is_the_cpu_here_without_cuda() -> None:
    trainer = Trainer(small_config(), device="auto")
    assert trainer.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert not trainer.autocast or trainer.device.type == "cuda"  # mixed precision only on CUDA


def test_training_fits_the_scene_and_renders_depth_in_metres(trained: Trainer) -> None:
    assert trained.step_count == 120
    truth = plane_keyframe(7)  # a pose between the training cameras, never trained on
    view = trained.render_keyframe(truth)
    assert view.depth.shape == (40, 48) and view.rgb.shape == (40, 48, 3)
    assert np.median(np.abs(view.depth - truth.depth)) < 0.001  # within a millimetre at 8 cm
    assert view.opacity.mean() > 0.85
    guided = trained.render_keyframe(truth, guided=True)
    assert np.median(np.abs(guided.depth - truth.depth)) < 0.001


def test_zero_confidence_prior_trains_on_colour_only() -> None:
    keyframes = [plane_keyframe(index) for index in range(3)]
    trainer = Trainer(small_config(), device="cpu")
    for keyframe in keyframes:
        trainer.add_keyframe(dataclasses.replace(keyframe, confidence=np.zeros_like(keyframe.confidence)))
    summary = trainer.train(max_steps=5)
    assert summary.last is not None and summary.last.terms["depth"] == 0.0
    assert all(math.isfinite(value) for value in (summary.last.loss, summary.last.psnr, *summary.last.terms.values()))


def test_time_budget_stops_training() -> None:
    trainer = Trainer(small_config(), device="cpu")
    trainer.add_keyframe(plane_keyframe(0))
    start = time.perf_counter()
    summary = trainer.train(budget_s=0.5)
    assert summary.steps >= 1 and time.perf_counter() - start < 5.0
    assert summary.rays_per_second > 0


def test_checkpoint_round_trip_renders_the_same_and_resumes(trained: Trainer, tmp_path: Path) -> None:
    path = tmp_path / "trainer.pt"
    trained.save(path)
    loaded = Trainer.load(path, device="cpu")
    assert loaded.step_count == trained.step_count and loaded.config == trained.config
    assert [k.index for k in loaded.buffer.snapshot()] == [k.index for k in trained.buffer.snapshot()]
    T = pose(9)
    before, after = trained.render(K, T, 48, 40), loaded.render(K, T, 48, 40)
    np.testing.assert_array_equal(before.depth, after.depth)
    np.testing.assert_array_equal(before.rgb, after.rgb)
    assert loaded.train(max_steps=2).steps == 2 and loaded.step_count == trained.step_count + 2
    with pytest.raises(TrainingError, match="no such checkpoint"):
        Trainer.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="not a readable trainer checkpoint"):
        Trainer.load(tmp_path / "junk.pt")


def test_background_training_continues_as_keyframes_arrive() -> None:
    trainer = Trainer(small_config(), device="cpu")
    trainer.start()
    try:
        time.sleep(0.2)  # idles on an empty buffer
        assert trainer.running and trainer.step_count == 0
        for index in range(3):
            trainer.add_keyframe(plane_keyframe(index))
        deadline = time.perf_counter() + 60
        while trainer.step_count < 5 and time.perf_counter() < deadline:
            time.sleep(0.05)
        view = trainer.render(K, pose(1), 48, 40)  # a query while training runs
        assert view.depth.shape == (40, 48)
        trainer.add_keyframe(plane_keyframe(3))
        seen = trainer.step_count
        while trainer.step_count < seen + 3 and time.perf_counter() < deadline:
            time.sleep(0.05)
    finally:
        trainer.stop()
    assert not trainer.running and trainer.step_count >= 8
    assert 3 in {k.index for k in trainer.buffer.snapshot()}
    with pytest.raises(TrainingError, match="already running"):
        trainer.start()
        trainer.start()
    trainer.stop()


def test_depth_refinement_replaces_only_invalid_pixels(trained: Trainer) -> None:
    trainer = Trainer(small_config(), device="cpu")
    truth = {index: plane_keyframe(index) for index in range(6)}
    rng = np.random.default_rng(0)
    for keyframe in truth.values():
        depth, confidence = keyframe.depth.copy(), keyframe.confidence.copy()
        holes = rng.random(depth.shape) < 0.1
        weak = ~holes & (rng.random(depth.shape) < 0.05)
        depth[holes] = 0.0
        confidence[weak] = 0.05
        valid = np.ones(depth.shape, bool)
        valid[:, :4] = False  # not tissue: never refined
        depth[:, :2] = 0.0
        trainer.add_keyframe(dataclasses.replace(keyframe, depth=depth, confidence=confidence, valid=valid))
    before = {k.index: k for k in trainer.buffer.snapshot()}
    trainer.train(max_steps=120)
    replaced = trainer.refine_depth()
    assert replaced > 0
    for keyframe in trainer.buffer.snapshot():
        old = before[keyframe.index]
        changed = (keyframe.depth != old.depth) | (keyframe.confidence != old.confidence)
        assert not np.any(changed & ~invalid_prior(old, trainer.config))
        assert np.all(keyframe.confidence[changed] == np.float32(trainer.config.depth_refine_confidence))
        assert np.median(np.abs(keyframe.depth[changed] - truth[keyframe.index].depth[changed])) < 0.001
    assert trainer.refined_pixels == replaced


def test_depth_refinement_runs_on_schedule() -> None:
    config = small_config(depth_refine_start=3, depth_refine_period=2, depth_refine_rounds=2)
    trainer = Trainer(config, device="cpu")
    trainer.add_keyframe(plane_keyframe(0))
    calls: list[int] = []

    def record() -> int:
        calls.append(trainer.step_count)
        return 0

    trainer.refine_depth = record  # type: ignore[method-assign]
    trainer.train(max_steps=10)
    assert calls == [3, 5]


def test_pose_refinement_reduces_an_injected_pose_error() -> None:
    config = small_config(pose_refinement=True, pose_refine_start=100, lr_pose=3e-4)
    trainer = Trainer(config, device="cpu")
    rng = np.random.default_rng(1)
    truth = {}
    for index in range(6):
        truth[index] = pose(index)
        error = make_se3(rotation_about_axis(rng.normal(size=3), np.deg2rad(0.5)), rng.normal(size=3) * 0.0005)
        given = truth[index] @ error if index else truth[index]  # the first keyframe fixes the gauge
        trainer.add_keyframe(plane_keyframe(index, T_given=given))
    trainer.train(max_steps=250)
    report = pose_report(trainer, truth)
    before = np.mean([entry["given_translation_error_m"] for entry in report.values()])
    after = np.mean([entry["translation_error_m"] for entry in report.values()])
    rotation_before = np.mean([entry["given_rotation_error_deg"] for entry in report.values()])
    rotation_after = np.mean([entry["rotation_error_deg"] for entry in report.values()])
    print(f"pose error: {before * 1e3:.3f} -> {after * 1e3:.3f} mm, {rotation_before:.3f} -> {rotation_after:.3f} deg")
    assert after < 0.8 * before and rotation_after < 0.8 * rotation_before
    np.testing.assert_array_equal(trainer.refined_poses()[0], truth[0])


def test_occupancy_grid_marches_prior_less_rays_and_survives_a_checkpoint(tmp_path: Path) -> None:
    config = small_config(occupancy_resolution=32, occupancy_warmup_steps=50, occupancy_update_period=10)
    trainer = Trainer(config, device="cpu")
    for index in range(6):  # no usable prior: every batch is prior-less
        keyframe = plane_keyframe(index)
        trainer.add_keyframe(dataclasses.replace(keyframe, confidence=np.zeros_like(keyframe.confidence)))
    trainer.train(max_steps=100)
    grid = trainer.occupancy
    assert grid is not None and grid.updates == 5  # steps 50, 60, ..., 90
    # (This scene's box is a 2 cm slab around the plane, all of it near the surface: the grid's skipping of empty
    # space is tested in tests/render/test_occupancy.py.)
    truth = plane_keyframe(7)
    view = trainer.render_keyframe(truth)  # marched through the grid
    trainer.occupancy = None
    dense = trainer.render_keyframe(truth)  # coarse + importance samples
    trainer.occupancy = grid
    assert np.median(np.abs(view.depth - dense.depth)) < 0.002  # a young, fuzzy field: measured 1.1 mm
    assert np.abs(view.rgb - dense.rgb).mean() < 0.02
    path = tmp_path / "trainer.pt"
    trainer.save(path)
    loaded = Trainer.load(path, device="cpu")
    assert loaded.occupancy is not None and torch.equal(loaded.occupancy.occupied, grid.occupied)
    np.testing.assert_array_equal(loaded.render_keyframe(truth).depth, view.depth)
