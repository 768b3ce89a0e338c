"""NeuS alpha is unbiased for a plane (the weight peaks at the zero crossing); a naive SDF->density is not."""

from __future__ import annotations

import pytest
import torch

from stereo_nerf_core.render import (
    eikonal_loss,
    nerf_alpha,
    neus_alpha,
    sample_midpoints_and_deltas,
    sdf_secant_cos,
    transmittance_weights,
)

Z0 = 0.08
SPACING = 2e-4


def _ray() -> tuple[torch.Tensor, torch.Tensor]:
    """Samples every 0.2 mm from 4 to 12 cm along a ray on the +z axis (distance = z)."""
    t = torch.arange(0.04, 0.12, SPACING, dtype=torch.float64)[None]
    return sample_midpoints_and_deltas(t)


def _peak(weights: torch.Tensor, t_mid: torch.Tensor) -> float:
    return float(t_mid[0, weights[0].argmax()])


@pytest.mark.parametrize("inv_s", [50.0, 200.0, 1000.0, 5000.0, 20000.0])
def test_neus_weight_peaks_at_the_zero_crossing(inv_s: float) -> None:
    t_mid, deltas = _ray()
    # A camera at the origin looking along +z at a plane at z0: sdf = z0 - z, positive in free space,
    # slope along the ray d.grad = -1 (equivalently sdf = z - z0 seen by a ray travelling along -z).
    sdf = Z0 - t_mid
    weights = transmittance_weights(neus_alpha(sdf, torch.full_like(sdf, -1.0), deltas, inv_s))
    assert abs(_peak(weights, t_mid) - Z0) <= SPACING
    if inv_s >= 200.0:  # the whole logistic fits in the sampled range: the weights are symmetric about z0
        centroid = float((weights * t_mid).sum() / weights.sum())
        assert centroid == pytest.approx(Z0, abs=SPACING)


def test_neus_is_unbiased_along_an_oblique_ray() -> None:
    t_mid, deltas = _ray()
    cos = -0.6  # the ray meets the plane at 53 degrees: sdf falls by 0.6 m per metre of travel
    sdf = 0.6 * (Z0 - t_mid)
    weights = transmittance_weights(neus_alpha(sdf, torch.full_like(sdf, cos), deltas, 1000.0))
    assert abs(_peak(weights, t_mid) - Z0) <= SPACING


@pytest.mark.parametrize("inv_s", [50.0, 100.0, 200.0])
def test_naive_sdf_to_density_is_biased_towards_the_camera(inv_s: float) -> None:
    # NeRF alpha of the logistic density phi_s(sdf) = s e^{-s f} / (1 + e^{-s f})^2 peaks where sigmoid(-s f)
    # = (3 - sqrt 5) / 2, i.e. 0.481 / s in front of the surface: the unbiasedness test above fails for it.
    t_mid, deltas = _ray()
    sdf = Z0 - t_mid
    phi = inv_s * torch.sigmoid(-inv_s * sdf) * torch.sigmoid(inv_s * sdf)
    peak = _peak(transmittance_weights(nerf_alpha(phi, deltas)), t_mid)
    assert Z0 - peak > 5 * SPACING
    assert Z0 - peak == pytest.approx(0.4812 / inv_s, abs=SPACING)


def test_a_camera_inside_the_surface_does_not_see_the_plane() -> None:
    # Why the SDF is positive in free space: with sdf = z - z0 a ray from the origin along +z starts inside,
    # where NeuS alpha is ~1 (official +1e-5 terms), so the first sample takes all the weight.
    t_mid, deltas = _ray()
    sdf = t_mid - Z0
    weights = transmittance_weights(neus_alpha(sdf, torch.full_like(sdf, 1.0), deltas, 1000.0))
    assert _peak(weights, t_mid) == pytest.approx(float(t_mid[0, 0]))
    assert weights[0, t_mid[0] > Z0 - 0.01].sum().item() < 1e-6


def test_secant_slope_of_a_linear_sdf() -> None:
    t = torch.tensor([[0.1, 0.2, 0.4, 0.5]])
    torch.testing.assert_close(sdf_secant_cos(0.3 - 0.5 * t, t), torch.full((1, 4), -0.5))


def test_eikonal_loss() -> None:
    unit = torch.nn.functional.normalize(torch.randn(10, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    assert eikonal_loss(unit).item() == pytest.approx(0.0, abs=1e-10)
    assert eikonal_loss(torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])).item() == pytest.approx(0.5)
    assert eikonal_loss(torch.zeros(0, 3)).item() == 0.0
    with pytest.raises(ValueError, match=r"\(M, 3\)"):
        eikonal_loss(torch.zeros(4))
