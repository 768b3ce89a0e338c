"""Pose-free reconstruction: geometry helpers and losses on hand-computed cases, stage 1 on the sample bag, errors."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from stereo_nerf_core.cli import main
from stereo_nerf_core.config import PoseFreeConfig, config_from_parameters, load_config, set_parameters
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.eval.trajectory import absolute_trajectory_error
from stereo_nerf_core.geometry.lie import backproject_pixels, project_points
from stereo_nerf_core.geometry.transforms import make_se3, rotation_about_axis
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.pose_free import (
    PriorPoses,
    align_priors,
    chamfer_loss,
    nearest_distances,
    pair_indices,
    sample_image,
)
from stereo_nerf_core.training.pose_free_run import PoseFreeInput, keyframes_for_pose_free
from tests.conftest import CONFIG, SAMPLE_BAG
from tests.training.scenes import K, plane_keyframe


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Stage 1 runs many small tensor operations: one thread is faster than two on a busy CI machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


CI = PoseFreeConfig(iterations=120, chamfer_points=256, photometric_points=1024, chamfer_iterations=60, field_steps=0)


def test_backprojection_and_projection_are_inverse() -> None:
    K_t = torch.tensor(K, dtype=torch.float32)
    pixels = torch.tensor([[23.5, 19.5], [0.0, 0.0], [47.0, 39.0]])
    depth = torch.tensor([0.08, 0.05, 0.1])
    points = backproject_pixels(pixels, depth, K_t)
    assert torch.allclose(points[0], torch.tensor([0.0, 0.0, 0.08]))  # the principal point looks down the axis
    assert torch.allclose(points[1], torch.tensor([-23.5 / 40 * 0.05, -19.5 / 40 * 0.05, 0.05]))
    back, z = project_points(points, K_t)
    assert torch.allclose(back, pixels, atol=1e-4) and torch.allclose(z, depth)


def test_nearest_distances_and_chamfer_of_a_shifted_copy() -> None:
    grid = torch.stack(torch.meshgrid(torch.arange(5.0), torch.arange(5.0), indexing="ij"), dim=-1).reshape(1, -1, 2)
    source = torch.cat([grid, torch.zeros(1, 25, 1)], dim=-1)
    target = source + torch.tensor([0.0, 0.0, 0.3])  # the same points 0.3 further along z
    assert torch.allclose(nearest_distances(source, target), torch.full((1, 25), 0.3))
    everything = torch.ones(1, 25, dtype=torch.bool)
    assert float(chamfer_loss(source, target, everything, everything)) == pytest.approx(0.6)  # 0.3 both ways
    some = everything.clone()
    some[0, 5:] = False  # only the points flagged as seen count
    far = target.clone()
    far[0, 5:] += 10.0
    assert float(chamfer_loss(source, far, some, some)) == pytest.approx(0.6)


def test_sample_image_reads_pixel_centres_bilinearly() -> None:
    image = torch.arange(12.0).reshape(1, 1, 3, 4)  # value = 4 * row + column
    pixels = torch.tensor([[[0.0, 0.0], [3.0, 2.0], [1.5, 0.5]]])
    assert torch.allclose(sample_image(image, pixels)[0, :, 0], torch.tensor([0.0, 11.0, 3.5]))


def test_prior_poses_chain_the_initial_relative_poses() -> None:
    initial = np.stack([make_se3(rotation_about_axis([0, 1, 0], 0.1 * i), [0.01 * i, 0.0, 0.002]) for i in range(4)])
    model = PriorPoses(initial, unit=0.08)
    with torch.no_grad():
        assert np.allclose(model.poses().double().numpy(), initial, atol=1e-6)
        model.xi[1, 0] = 0.5  # frame 2 moves 0.5 units (4 cm) along its own x axis; frame 3 follows it
        moved = model.poses().double().numpy()
    assert np.allclose(moved[:2], initial[:2], atol=1e-6)
    assert np.allclose(moved[2], initial[2] @ make_se3(np.eye(3), [0.04, 0, 0]), atol=1e-6)
    assert np.allclose(np.linalg.inv(moved[2]) @ moved[3], np.linalg.inv(initial[2]) @ initial[3], atol=1e-6)
    assert model.scales().tolist() == [1.0, 1.0, 1.0, 1.0] and model.regulariser().item() == 0.0


def test_pairs_cover_every_offset() -> None:
    a, b = pair_indices(4, 2)
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3)]


def test_plane_scene_poses_are_recovered_from_identity() -> None:
    keyframes = [plane_keyframe(index) for index in range(5)]
    truth = np.stack([k.T_world_camera for k in keyframes])
    initial = np.repeat(truth[:1], 5, axis=0)
    result = align_priors(keyframes, dataclasses.replace(CI, iterations=150), initial_poses=initial)
    start = absolute_trajectory_error(initial, truth).rmse_m
    end = absolute_trajectory_error(result.poses, truth).rmse_m
    assert start > 1.5e-3 and end < 0.25 * start  # a plane: tilt and sideways motion are nearly alike
    assert np.allclose(result.poses[0], truth[0]) and np.allclose(result.scales, 1.0, atol=0.02)


@pytest.fixture(scope="module")
def bag_start() -> PoseFreeInput:
    return keyframes_for_pose_free(SAMPLE_BAG, load_config(CONFIG), downscale=2, max_frames=12)


@pytest.mark.slow
def test_the_sample_bag_trajectory_is_recovered_from_identity(bag_start: PoseFreeInput) -> None:
    keyframes = [item.keyframe for item in bag_start.frames]
    assert bag_start.truth is not None and len(keyframes) == 12
    assert all(np.array_equal(k.T_world_camera, keyframes[0].T_world_camera) for k in keyframes)  # no bag poses
    result = align_priors(keyframes, CI, initial_poses=np.stack([k.T_world_camera for k in keyframes]))
    start = absolute_trajectory_error(np.stack([k.T_world_camera for k in keyframes]), bag_start.truth).rmse_m
    end = absolute_trajectory_error(result.poses, bag_start.truth).rmse_m
    print(f"ATE {1000 * start:.3f} mm (identity) -> {1000 * end:.3f} mm; loss {result.losses[0]:.4f} -> "
          f"{result.losses[-1]:.4f}")
    assert start > 1.5e-3  # the camera moves 5 mm over these frames
    assert end < 0.4e-3 and end < 0.25 * start  # measured 0.225 mm
    assert result.losses[-1] < 0.7 * result.losses[0]


def test_bad_inputs_are_clear_errors() -> None:
    keyframe = plane_keyframe(0)
    with pytest.raises(TrainingError, match="at least 2 keyframes"):
        align_priors([keyframe], CI)
    with pytest.raises(TrainingError, match=r"initial_poses must be \(2, 4, 4\)"):
        align_priors([keyframe, plane_keyframe(1)], CI, initial_poses=np.eye(4)[None])
    blind = keyframe.with_prior(np.zeros_like(keyframe.depth), np.zeros_like(keyframe.confidence))
    with pytest.raises(TrainingError, match=r"keyframe 0 has 0 trusted prior pixels.*pose_free\.min_confidence"):
        align_priors([blind, plane_keyframe(1)], CI)
    with pytest.raises(ConfigError, match=r"pose_free\.initial_poses must be 'identity' or 'odometry'"):
        config_from_parameters({"pose_free": {"initial_poses": "gps"}})
    with pytest.raises(ConfigError, match=r"pose_free\.max_pair_offset = 0 is out of range"):
        PoseFreeConfig(max_pair_offset=0)


def _small_trainer_yaml(path: Path) -> Path:
    """The shipped YAML with a tiny field, so a CLI run renders its keyframes in a second."""
    document = yaml.safe_load(CONFIG.read_text())
    small = dict(
        rays_per_batch=128, grid_levels=4, grid_log2_table_size=12, grid_max_resolution=64, prior_samples=4,
        uniform_samples=2, render_chunk=4096,
    )
    set_parameters(document, {f"trainer.{name}": value for name, value in small.items()})
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.slow
def test_cli_writes_poses_metrics_and_model(tmp_path: Path) -> None:
    out = tmp_path / "pose_free"
    config = _small_trainer_yaml(tmp_path / "small.yaml")
    code = main([
        "pose-free", str(SAMPLE_BAG), "--out", str(out), "--config", str(config), "--max-frames", "4",
        "--downscale", "4", "--iterations", "40", "--field-steps", "2", "--device", "cpu",
    ])
    assert code == 0
    poses = json.loads((out / "poses.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(poses, key=int) == ["0", "1", "2", "3"] and np.array(poses["2"]["T_world_camera"]).shape == (4, 4)
    assert metrics["frames"] == 4 and metrics["initial_poses"] == "identity"
    trajectory = metrics["trajectory"]
    assert trajectory["stage1"]["ate"]["rmse_m"] < trajectory["start"]["ate"]["rmse_m"]
    assert 0 < metrics["views"]["depth"]["coverage"] <= 1 and (out / "model.pt").is_file()


def test_cli_names_a_bag_too_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["pose-free", str(SAMPLE_BAG), "--out", str(tmp_path), "--max-frames", "1", "--config", str(CONFIG)])
    assert code == 2
    assert "pose-free reconstruction needs at least 2 stereo pairs, found 1" in capsys.readouterr().err
