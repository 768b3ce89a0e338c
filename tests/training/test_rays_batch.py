"""Ray batch sampling: mask guidance, recency bias, binocular rays, right-camera prior, patches."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from stereo_nerf_core.render.rays import camera_rays
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.rays_batch import BatchOptions, RayBatchSampler, batch_rays, warp_prior_to_right
from tests.training.scenes import plane_keyframe

OPTIONS = BatchOptions(rays=20_000, mask_guide_sample_rate=1.0, recency_share=0.0, recency_window=1, binocular=False)


def _with_mask(keyframe: TrainingKeyframe, share: float) -> TrainingKeyframe:
    valid = np.zeros(keyframe.valid.shape, bool)
    valid.reshape(-1)[: int(share * valid.size)] = True
    return dataclasses.replace(keyframe, valid=valid)


@pytest.mark.parametrize("rate", [1.0, 0.6, 0.0])
def test_mask_guide_sample_rate_sets_the_share_of_rays_inside_the_mask(rate: float) -> None:
    keyframe = _with_mask(plane_keyframe(0), 0.25)
    sampler = RayBatchSampler(dataclasses.replace(OPTIONS, mask_guide_sample_rate=rate), seed=1)
    batch = sampler.sample([keyframe])
    inside = batch.photometric_weight.numpy() > 0
    expected = rate + (1.0 - rate) * 0.25  # guided rays, plus unguided ones that land inside by chance
    assert inside.mean() == pytest.approx(expected, abs=0.015)
    # rays outside the mask drive neither the photometric nor the depth loss
    assert np.all(batch.confidence.numpy()[~inside] == 0) and np.all(batch.depth.numpy()[~inside] == 0)
    pixels = batch.pixels.numpy().astype(int)
    assert np.array_equal(keyframe.valid[pixels[:, 1], pixels[:, 0]], inside)
    np.testing.assert_allclose(batch.rgb.numpy(), keyframe.rgb[pixels[:, 1], pixels[:, 0]] / 255.0, atol=1e-6)


def test_recency_bias_sends_its_share_of_rays_to_the_newest_keyframes() -> None:
    keyframes = [plane_keyframe(index) for index in range(10)]
    sampler = RayBatchSampler(dataclasses.replace(OPTIONS, recency_share=0.5, recency_window=2), seed=2)
    slots = sampler.sample(keyframes).slot.numpy()
    counts = np.bincount(slots, minlength=10) / slots.size
    assert counts[8:].sum() == pytest.approx(0.5 + 0.5 * 2 / 10, abs=0.015)
    assert counts[:8] == pytest.approx(np.full(8, 0.5 / 10), abs=0.01)
    uniform = RayBatchSampler(OPTIONS, seed=2).sample(keyframes).slot.numpy()
    assert np.bincount(uniform, minlength=10) / uniform.size == pytest.approx(np.full(10, 0.1), abs=0.01)


def _binocular(index: int, baseline: float = 0.004) -> TrainingKeyframe:
    keyframe = plane_keyframe(index)
    return dataclasses.replace(keyframe, right_rgb=keyframe.rgb.copy(), baseline_m=baseline)


def test_binocular_rays_start_at_the_right_camera() -> None:
    keyframes = [_binocular(0), _binocular(1)]
    sampler = RayBatchSampler(dataclasses.replace(OPTIONS, rays=4000, binocular=True), seed=3)
    batch = sampler.sample(keyframes)
    right = batch.camera.numpy() == 1
    assert right.mean() == pytest.approx(0.5, abs=0.03)
    K = torch.tensor(np.stack([k.K for k in keyframes]))
    T = torch.tensor(np.stack([k.T_world_camera for k in keyframes]))
    rays = batch_rays(batch, K, T, torch.tensor([0.004, 0.004], dtype=torch.float64))
    for slot, keyframe in enumerate(keyframes):
        for camera, T_world in ((0, keyframe.T_world_camera), (1, keyframe.T_world_right)):
            chosen = (batch.slot == slot) & (batch.camera == camera)
            expected = camera_rays(torch.tensor(keyframe.K), torch.tensor(T_world), batch.pixels[chosen].double())
            torch.testing.assert_close(rays.origins[chosen], expected.origins)
            torch.testing.assert_close(rays.directions[chosen], expected.directions)
            torch.testing.assert_close(rays.z_per_distance[chosen], expected.z_per_distance)


def test_right_prior_is_the_left_prior_moved_by_its_disparity() -> None:
    keyframe = _binocular(0, baseline=0.004)
    keyframe = dataclasses.replace(keyframe, depth=np.full_like(keyframe.depth, 0.08))
    depth, confidence = warp_prior_to_right(keyframe)
    shift = round(keyframe.K[0, 0] * 0.004 / 0.08)  # 2 px
    assert np.all(depth[:, : keyframe.width - shift] == np.float32(0.08))
    assert np.all(depth[:, keyframe.width - shift :] == 0) and np.all(confidence[depth == 0] == 0)
    # nearer surfaces win where several left pixels land on one right pixel
    near = keyframe.depth.copy()
    near[:, 10] = 0.04
    right, _ = warp_prior_to_right(dataclasses.replace(keyframe, depth=near))
    assert right[0, 10 - round(keyframe.K[0, 0] * 0.004 / 0.04)] == np.float32(0.04)


def test_ssim_patches_are_square_blocks_at_the_end_of_the_batch() -> None:
    options = dataclasses.replace(OPTIONS, rays=300, patches=3, patch_px=8)
    batch = RayBatchSampler(options, seed=4).sample([plane_keyframe(0)])
    assert len(batch) == 300 and batch.patches == 3
    patch = batch.pixels[-64:].numpy().reshape(8, 8, 2)
    assert np.all(np.diff(patch[:, :, 0], axis=1) == 1) and np.all(np.diff(patch[:, :, 1], axis=0) == 1)
    with pytest.raises(TrainingError, match="do not fit"):
        RayBatchSampler(dataclasses.replace(options, rays=100), seed=0)


def test_sampling_is_deterministic_per_seed_and_needs_keyframes() -> None:
    keyframes = [plane_keyframe(index) for index in range(3)]
    a = RayBatchSampler(OPTIONS, seed=5).sample(keyframes)
    b = RayBatchSampler(OPTIONS, seed=5).sample(keyframes)
    assert torch.equal(a.pixels, b.pixels) and torch.equal(a.slot, b.slot)
    with pytest.raises(TrainingError, match="no keyframes"):
        RayBatchSampler(OPTIONS, seed=5).sample([])


def test_left_rays_carry_the_object_mask_when_the_keyframe_has_one() -> None:
    keyframe = plane_keyframe(0)
    foreground = np.zeros(keyframe.valid.shape, bool)
    foreground[:, : keyframe.width // 2] = True  # object on the left half
    options = BatchOptions(rays=512, mask_guide_sample_rate=0.0, recency_share=0.0, recency_window=1, binocular=False)
    batch = RayBatchSampler(options, seed=2).sample([dataclasses.replace(keyframe, foreground=foreground)])
    left_half = batch.pixels[:, 0] < keyframe.width // 2
    assert torch.equal(batch.foreground, left_half.float())
    unknown = RayBatchSampler(options, seed=2).sample([keyframe])
    assert bool((unknown.foreground == -1).all())
    with pytest.raises(TrainingError, match="foreground must be a bool mask"):
        dataclasses.replace(keyframe, foreground=foreground.astype(np.uint8))
