"""NoPe-NeRF's photometric surface loss on a hand-built two-camera scene: a plane seen by a shifted camera."""

from __future__ import annotations

import pytest
import torch

from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.rays_batch import RayBatch
from stereo_nerf_core.training.surface_photometric import (
    bilinear_colours,
    neighbour_slots,
    surface_photometric_loss,
)

H, W, F, Z, SHIFT_M = 40, 64, 50.0, 0.1, 0.01  # keyframe 1 sits 1 cm to the right: disparity F * 0.01 / 0.1 = 5 px
K = torch.tensor([[F, 0.0, 31.5], [0.0, F, 19.5], [0.0, 0.0, 1.0]]).expand(2, 3, 3)


def _texture(u: torch.Tensor) -> torch.Tensor:
    """A smooth colour ramp along u (linear: bilinear sampling is exact)."""
    return torch.stack([u / W, 1.0 - u / W, torch.full_like(u, 0.5)], dim=0)


def _scene() -> tuple[torch.Tensor, torch.Tensor, RayBatch]:
    u = torch.arange(W, dtype=torch.float32).expand(H, W)
    images = torch.stack([_texture(u), _texture(u + F * SHIFT_M / Z)])  # a point at u in 0 is at u - 5 in 1
    poses = torch.eye(4).repeat(2, 1, 1)
    poses[1, 0, 3] = SHIFT_M
    pixels = torch.stack([torch.linspace(10, 50, 32), torch.full((32,), 20.0)], dim=1)
    batch = RayBatch(
        slot=torch.zeros(32, dtype=torch.long),
        camera=torch.zeros(32, dtype=torch.long),
        pixels=pixels,
        rgb=_texture(pixels[:, 0]).T,
        depth=torch.zeros(32),
        confidence=torch.zeros(32),
        photometric_weight=torch.ones(32),
        foreground=torch.full((32,), -1.0),
    )
    return images, poses, batch


def test_the_true_depth_gives_zero_loss_and_a_wrong_one_its_colour_error() -> None:
    images, poses, batch = _scene()
    exact = surface_photometric_loss(batch, torch.full((32,), Z), poses, K, images)
    assert float(exact) == pytest.approx(0.0, abs=1e-5)
    # At Z * 1.25 the disparity is 4 px instead of 5: every colour channel of the ramp is off by 1 px / W,
    # two of three channels change: mean L1 = (2 / 3) / 64.
    wrong = surface_photometric_loss(batch, torch.full((32,), 1.25 * Z), poses, K, images)
    assert float(wrong) == pytest.approx((2 / 3) / W, rel=1e-4)


def test_gradients_move_depth_and_pose_towards_the_truth() -> None:
    images, poses, batch = _scene()
    depth = torch.full((32,), 1.25 * Z, requires_grad=True)
    moved = poses.clone().requires_grad_(True)
    surface_photometric_loss(batch, depth, moved, K, images).backward()
    assert depth.grad is not None and bool((depth.grad > 0).all())  # lowering the depth lowers the loss
    assert moved.grad is not None and float(moved.grad[1].abs().sum()) > 0


def test_neighbours_rays_outside_and_bad_shapes() -> None:
    assert neighbour_slots(4, torch.device("cpu")).tolist() == [1, 2, 3, 2]
    assert neighbour_slots(1, torch.device("cpu")).tolist() == [0]
    images, poses, batch = _scene()
    far_left = RayBatch(**{**batch.__dict__, "pixels": torch.tensor([[0.0, 20.0]] * 32)})
    assert float(surface_photometric_loss(far_left, torch.full((32,), Z), poses, K, images)) == 0.0  # u = -5 in 1
    torch.testing.assert_close(
        bilinear_colours(images, torch.tensor([1]), torch.tensor([7.5]), torch.tensor([3.0])),
        _texture(torch.tensor([12.5])).T,
    )
    with pytest.raises(TrainingError, match=r"poses \(S, 4, 4\)"):
        surface_photometric_loss(batch, torch.full((32,), Z), poses[:1], K, images)
