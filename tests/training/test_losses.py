"""Loss terms: masking, confidence weighting, relative depth error, patch SSIM, opacity."""

from __future__ import annotations

import math

import pytest
import torch

from stereo_nerf_core.training import losses
from stereo_nerf_core.training.errors import TrainingError


def test_photometric_loss_ignores_rays_outside_the_mask() -> None:
    target = torch.rand(6, 3)
    rgb = target.clone()
    rgb[4:] = 1.0 - rgb[4:]
    weight = torch.tensor([1.0, 1, 1, 1, 0, 0])
    for kind in ("l1", "huber"):
        assert float(losses.photometric_loss(rgb, target, weight, kind=kind)) == 0.0
        assert float(losses.photometric_loss(rgb, target, torch.ones(6), kind=kind)) > 0.0
    l1 = losses.photometric_loss(torch.full((2, 3), 0.5), torch.zeros(2, 3), torch.ones(2), kind="l1")
    assert float(l1) == pytest.approx(0.5)
    with pytest.raises(TrainingError, match="unknown photometric loss"):
        losses.photometric_loss(rgb, target, weight, kind="l2")


def test_depth_loss_is_relative_confidence_weighted_and_skips_rays_without_prior() -> None:
    prior = torch.tensor([0.05, 0.10, 0.0, 0.08])
    confidence = torch.tensor([1.0, 1.0, 1.0, 0.0])
    # 10 % too far on both rays with a prior: the same loss at 5 cm and at 10 cm
    depth = torch.tensor([0.055, 0.11, 0.3, 0.5])
    loss = losses.depth_loss(depth, prior, confidence, delta=0.02)
    assert float(loss) == pytest.approx(0.1 - 0.01, rel=1e-5)  # Huber past delta: |r| - delta / 2
    half = losses.depth_loss(depth, prior, torch.tensor([0.5, 0.5, 1.0, 0.0]), delta=0.02)
    assert float(half) == pytest.approx(0.5 * float(loss), rel=1e-5)
    assert float(losses.depth_loss(depth, torch.zeros(4), confidence)) == 0.0


def test_opacity_and_ssim_terms() -> None:
    assert float(losses.opacity_loss(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 0.0]))) == 0.0
    assert float(losses.opacity_loss(torch.tensor([0.5, 0.0]), torch.tensor([1.0, 0.0]))) == pytest.approx(0.25)
    colours = torch.rand(2 * 64 + 5, 3, generator=torch.Generator().manual_seed(0))
    same = losses.patch_ssim_loss(colours, colours, patches=2, patch_px=8)
    noisy = losses.patch_ssim_loss(colours.flip(0), colours, patches=2, patch_px=8)
    assert float(same) == pytest.approx(0.0, abs=1e-4) and float(noisy) > 0.3
    assert float(losses.patch_ssim_loss(colours, colours, patches=0, patch_px=8)) == 0.0
    with pytest.raises(TrainingError, match="fewer than"):
        losses.patch_ssim_loss(colours[:10], colours[:10], patches=2, patch_px=8)


def test_distortion_loss_matches_its_pairwise_definition_and_prefers_compact_weights() -> None:
    generator = torch.Generator().manual_seed(0)
    w = torch.rand(3, 7, generator=generator)
    m = torch.sort(torch.rand(3, 7, generator=generator)).values
    d = torch.rand(3, 7, generator=generator)
    pairwise = (w[:, :, None] * w[:, None, :] * (m[:, :, None] - m[:, None, :]).abs()).sum((1, 2))
    expected = (pairwise + (w * w * d).sum(1) / 3).mean()
    assert float(losses.distortion_loss(w, m, d, scale=1.0)) == pytest.approx(float(expected), rel=1e-5)
    assert float(losses.distortion_loss(w, 2 * m, 2 * d, scale=2.0)) == pytest.approx(float(expected), rel=1e-5)
    t = torch.linspace(0, 1, 10)[None]
    deltas = torch.full_like(t, 0.1)
    spread = torch.full_like(t, 0.1)
    compact = torch.zeros_like(t)
    compact[0, 5] = 1.0
    assert float(losses.distortion_loss(compact, t, deltas, scale=1.0)) < float(
        losses.distortion_loss(spread, t, deltas, scale=1.0)
    )


def test_mask_loss_is_the_cross_entropy_on_rays_with_a_known_mask() -> None:
    opacity = torch.tensor([0.9, 0.2, 0.5, 0.7])
    foreground = torch.tensor([1.0, 0.0, -1.0, 0.0])  # the third ray has no mask
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.3)) / 3
    assert float(losses.mask_loss(opacity, foreground)) == pytest.approx(expected, rel=1e-5)
    assert float(losses.mask_loss(opacity, torch.full((4,), -1.0))) == 0.0
