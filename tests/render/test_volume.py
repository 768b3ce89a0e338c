"""Volume-rendering arithmetic: alpha, exclusive-cumprod weights, compositing and expected depth."""

from __future__ import annotations

import pytest
import torch

from stereo_nerf_core.render import (
    RenderError,
    composite,
    expected_depth,
    nerf_alpha,
    sample_midpoints_and_deltas,
    transmittance_weights,
)


def test_hand_worked_three_samples() -> None:
    # deltas 1 cm; densities 0, 100 ln 2, 100 ln 4 (1/m)  ->  alpha = 1 - exp(-density * delta) = 0, 1/2, 3/4.
    # Transmittance before each sample T = 1, 1, 1 - 1/2 = 1/2; weights w = alpha * T = 0, 1/2, 3/8.
    # Opacity 0 + 1/2 + 3/8 = 7/8 = 1 - (1 - 0)(1 - 1/2)(1 - 3/4) = 1 - 1/8.
    # Colours red, green, blue -> (0, 1/2, 3/8). Depth at t = 5, 6, 7 cm on the axis (z_per_distance 1):
    # sum w t = 0.5 * 0.06 + 0.375 * 0.07 = 0.05625 m; normalised by the opacity 0.05625 / 0.875 = 0.0642857 m.
    # Off-axis with z_per_distance 0.5 the depths halve.
    density = torch.tensor(
        [[0.0, 100.0 * torch.log(torch.tensor(2.0)).item(), 100.0 * torch.log(torch.tensor(4.0)).item()]]
    )
    deltas = torch.full((1, 3), 0.01)
    alpha = nerf_alpha(density, deltas)
    torch.testing.assert_close(alpha, torch.tensor([[0.0, 0.5, 0.75]]))
    weights = transmittance_weights(alpha)
    torch.testing.assert_close(weights, torch.tensor([[0.0, 0.5, 0.375]]))
    torch.testing.assert_close(weights.sum(1), 1.0 - torch.prod(1.0 - alpha, dim=1))
    rgb = composite(weights, torch.eye(3)[None])
    torch.testing.assert_close(rgb, torch.tensor([[0.0, 0.5, 0.375]]))
    t_mid = torch.tensor([[0.05, 0.06, 0.07]])
    on_axis = torch.ones(1)
    torch.testing.assert_close(expected_depth(weights, t_mid, on_axis, normalize=False), torch.tensor([0.05625]))
    torch.testing.assert_close(expected_depth(weights, t_mid, on_axis), torch.tensor([0.05625 / 0.875]))
    torch.testing.assert_close(
        expected_depth(weights, t_mid, torch.tensor([0.5])), torch.tensor([0.5 * 0.05625 / 0.875])
    )


def test_weights_sum_to_one_minus_final_transmittance() -> None:
    generator = torch.Generator().manual_seed(0)
    alpha = torch.rand(50, 40, generator=generator) * 0.2
    weights = transmittance_weights(alpha)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(1), 1.0 - torch.prod(1.0 - alpha, dim=1), atol=1e-5, rtol=0)


def test_opaque_slab_gives_the_depth_of_its_front() -> None:
    t = torch.linspace(0.05, 0.11, 241)[None]  # 0.25 mm spacing
    t_mid, deltas = sample_midpoints_and_deltas(t)
    density = torch.where(t_mid >= 0.08, 1e5, 0.0)
    weights = transmittance_weights(nerf_alpha(density, deltas))
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert expected_depth(weights, t_mid, torch.ones(1)).item() == pytest.approx(0.08, abs=0.25e-3)


def test_transparent_ray_has_zero_depth_and_opacity() -> None:
    weights = transmittance_weights(torch.zeros(2, 5))
    t_mid = torch.linspace(0.1, 0.2, 5).expand(2, 5)
    assert torch.equal(expected_depth(weights, t_mid, torch.ones(2)), torch.zeros(2))


def test_shape_mismatches_name_the_expected_shape() -> None:
    with pytest.raises(RenderError, match=r"\(N, S\)"):
        nerf_alpha(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(RenderError, match=r"\(N, S, C\)"):
        composite(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"\(N,\)"):
        expected_depth(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(3))
