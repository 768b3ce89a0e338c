"""Sampling: uniform strata, Gaussian statistics around a depth prior, fallbacks, importance sampling."""

from __future__ import annotations

import math

import pytest
import torch

from stereo_nerf_core.render import (
    RenderError,
    depth_guided_samples,
    importance_samples,
    sample_edges,
    sample_midpoints_and_deltas,
    uniform_samples,
)


def _guided(
    depth: torch.Tensor,
    confidence: torch.Tensor,
    zpd: torch.Tensor,
    count_gaussian: int,
    count_uniform: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Depth-guided samples in [1 cm, 1 m] with sigma from 2 mm (confidence 1) to 2 cm (confidence 0+)."""
    return depth_guided_samples(
        depth,
        confidence,
        zpd,
        count_gaussian=count_gaussian,
        count_uniform=count_uniform,
        near=0.01,
        far=1.0,
        sigma_min_m=0.002,
        sigma_max_m=0.02,
        generator=generator,
    )


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_uniform_samples_one_per_stratum_and_sorted() -> None:
    near, far = torch.tensor([0.1, 0.2]), torch.tensor([0.3, 0.6])
    t = uniform_samples(near, far, 8, stratified=True, generator=_gen())
    assert t.shape == (2, 8)
    assert (t[:, 1:] > t[:, :-1]).all()
    width = (far - near)[:, None] / 8
    stratum = torch.floor((t - near[:, None]) / width)
    assert torch.equal(stratum, torch.arange(8.0).expand(2, 8))
    centres = uniform_samples(near, far, 4, stratified=False, generator=None)
    torch.testing.assert_close(centres[0], torch.tensor([0.125, 0.175, 0.225, 0.275]))
    again = uniform_samples(near, far, 8, stratified=True, generator=_gen())
    assert torch.equal(t, again)


@pytest.mark.parametrize(
    ("confidence", "zpd", "sigma_z"),
    [(1.0, 1.0, 0.002), (0.5, 1.0, 0.011), (1e-6, 1.0, 0.02), (1.0, 0.8, 0.002), (0.25, 0.6, 0.0155)],
)
def test_gaussian_samples_match_the_prior(confidence: float, zpd: float, sigma_z: float) -> None:
    # sigma = sigma_min + (1 - c)(sigma_max - sigma_min) in Z; in ray distance mean Z/zpd and std sigma/zpd.
    depth = 0.3
    t = _guided(torch.tensor([depth]), torch.tensor([confidence]), torch.tensor([zpd]), 20000, 0, _gen())
    assert (t[:, 1:] >= t[:, :-1]).all()
    assert t.mean().item() == pytest.approx(depth / zpd, abs=0.02 * sigma_z / zpd)
    assert t.std().item() == pytest.approx(sigma_z / zpd, rel=0.02)


def test_guided_samples_mix_gaussian_and_uniform() -> None:
    t = _guided(torch.tensor([0.3]), torch.tensor([1.0]), torch.tensor([1.0]), 32, 16, _gen())
    assert t.shape == (1, 48) and (t[:, 1:] >= t[:, :-1]).all()
    close = ((t - 0.3).abs() < 4.5 * 0.002).sum().item()
    assert close >= 32  # every Gaussian sample lies within 4.5 sigma (quantile levels are clipped at 4.2 sigma)
    assert (t >= 0.01).all() and (t <= 1.0).all()


def test_rays_without_a_prior_get_uniform_samples() -> None:
    # NaN, zero and negative depth, zero and NaN confidence, and a prior beyond `far` all mean "no prior".
    depth = torch.tensor([float("nan"), 0.0, -0.1, 0.3, 0.3, 5.0, 0.3])
    confidence = torch.tensor([1.0, 1.0, 1.0, 0.0, float("nan"), 1.0, 1.0])
    zpd = torch.ones(7)
    t = _guided(depth, confidence, zpd, 6, 2, _gen())
    assert t.shape == (7, 8) and torch.isfinite(t).all()
    assert (t[:, 1:] >= t[:, :-1]).all()
    width = (1.0 - 0.01) / 8
    stratum = torch.floor((t[:6] - 0.01) / width)
    assert torch.equal(stratum, torch.arange(8.0).expand(6, 8))  # one sample per eighth of [near, far]
    assert ((t[6] - 0.3).abs() < 0.01).sum() >= 6  # the last ray has a prior


def test_importance_samples_concentrate_on_the_weight() -> None:
    t = torch.linspace(0.05, 0.25, 64).expand(3, 64)
    weights = torch.zeros(3, 64)
    weights[:, 20] = 1.0
    edges = sample_edges(t)
    low, high = edges[0, 20], edges[0, 21]
    for deterministic in (False, True):
        fine = importance_samples(t, weights, 128, generator=_gen(), deterministic=deterministic)
        assert fine.shape == (3, 128) and (fine[:, 1:] >= fine[:, :-1]).all()
        inside = ((fine >= low) & (fine <= high)).float().mean().item()
        assert inside > 0.9
    empty = importance_samples(t, torch.zeros(3, 64), 64, generator=None, deterministic=True)
    assert empty.min() >= edges.min() and empty.max() <= edges.max()


def test_midpoints_and_deltas_by_hand() -> None:
    # t = 1, 2, 4: inner edges 1.5, 3; outer edges mirror the end gaps: 0.5 and 5.
    t_mid, deltas = sample_midpoints_and_deltas(torch.tensor([[1.0, 2.0, 4.0]]))
    torch.testing.assert_close(t_mid, torch.tensor([[1.0, 2.25, 4.0]]))
    torch.testing.assert_close(deltas, torch.tensor([[1.0, 1.5, 2.0]]))
    even = torch.linspace(0.1, 0.2, 11)[None]
    t_mid, deltas = sample_midpoints_and_deltas(even)
    torch.testing.assert_close(t_mid, even)
    torch.testing.assert_close(deltas, torch.full((1, 11), 0.01))
    assert math.isclose(deltas.sum().item(), 0.11, rel_tol=1e-6)


def test_bad_shapes_raise() -> None:
    with pytest.raises(RenderError, match=r"\(N,\)"):
        uniform_samples(torch.zeros(2), torch.ones(3), 4, stratified=False, generator=None)
    with pytest.raises(RenderError, match=r"\(N,\)"):
        _guided(torch.zeros(3), torch.zeros(2), torch.ones(3), 4, 0, None)
    with pytest.raises(RenderError, match=r"\(N, S\)"):
        importance_samples(torch.zeros(2, 4), torch.zeros(2, 5), 8, generator=None, deterministic=True)
    with pytest.raises(ValueError):
        depth_guided_samples(
            torch.zeros(3),
            torch.zeros(3),
            torch.ones(3),
            count_gaussian=4,
            count_uniform=0,
            generator=None,
            near=0.1,
            far=1.0,
            sigma_min_m=0.05,
            sigma_max_m=0.01,
        )
