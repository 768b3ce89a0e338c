"""Occupancy grid: measuring a known field, marching only through occupied cells, rendering with it."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from stereo_nerf_core.fields import Field, FieldOutput
from stereo_nerf_core.models import density_callbacks, sdf_callbacks
from stereo_nerf_core.render import RenderError, SamplingConfig, camera_rays, render_rays
from stereo_nerf_core.render.callbacks import RadianceCallbacks
from stereo_nerf_core.render.occupancy import OccupancyGrid, marching_step, occupied_samples

K = torch.tensor([[100.0, 0.0, 31.5], [0.0, 100.0, 23.5], [0.0, 0.0, 1.0]])
LOW, HIGH = torch.tensor([-0.1, -0.1, 0.0]), torch.tensor([0.1, 0.1, 0.2])
BALL_CENTRE, BALL_RADIUS = torch.tensor([0.0, 0.0, 0.1]), 0.03


def network(field: Field) -> RadianceCallbacks:
    """``field`` as render callbacks: the density pair or NeuS's opacity pair, by its kind."""
    return sdf_callbacks(field) if field.mode == "sdf" else density_callbacks(field)


class BallField(Field):
    """NeRF stub: density 1e4 / m inside a 3 cm ball at z = 10 cm, 0 outside; colour (0.9, 0.2, 0.1); counts points."""

    mode = "nerf"

    def __init__(self) -> None:
        super().__init__()
        self.evaluated = 0

    def forward(self, positions: Tensor, directions: Tensor) -> FieldOutput:
        self.evaluated += positions.shape[0]
        inside = (positions - BALL_CENTRE).norm(dim=1) < BALL_RADIUS
        rgb = torch.tensor([0.9, 0.2, 0.1]).expand(positions.shape[0], 3)
        return FieldOutput(rgb=rgb, density=inside.float() * 1e4)


def _measured_grid(field: Field, resolution: int = 32) -> OccupancyGrid:
    grid = OccupancyGrid(LOW, HIGH, resolution=resolution)
    step_m = marching_step(0.02, 0.2, 256)
    grid.update(lambda x: -torch.expm1(-field.density(x) * step_m), generator=torch.Generator().manual_seed(0))
    return grid


def test_grid_marks_the_ball_and_nothing_far_from_it() -> None:
    grid = _measured_grid(BallField())
    axis = (torch.arange(32) + 0.5) / 32
    centres = LOW + torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1) * (HIGH - LOW)
    distance = (centres - BALL_CENTRE).norm(dim=-1)
    half_diagonal = float(grid.cell_size.norm()) / 2
    assert grid.occupied[distance < BALL_RADIUS - half_diagonal].all()
    # One dilation: the occupied cells reach one cell (diagonal 10.8 mm) beyond the ball, never further.
    assert not grid.occupied[distance > BALL_RADIUS + 3 * half_diagonal * 1.01].any()
    # A fresh grid is fully occupied; the measured one keeps about the dilated ball's share of the box
    # (a ball of radius 3 + 6.25 mm: 0.0415).
    assert OccupancyGrid(LOW, HIGH, resolution=8).occupied.all()
    assert 0.02 < grid.occupied.float().mean().item() < 0.06


def test_marching_keeps_only_occupied_steps_in_front_of_the_surface() -> None:
    grid = _measured_grid(BallField())
    rays = camera_rays(K, torch.eye(4), torch.tensor([[31.5, 23.5], [-20.0, -20.0]]))  # centre hits, other misses
    near, far = torch.full((2,), 0.02), torch.full((2,), 0.2)
    marched = occupied_samples(
        rays.origins, rays.directions, near, far, grid, candidates=256, max_samples=64, stratified=False, generator=None
    )
    assert marched.valid[1].sum() == 0 and marched.deltas[1].sum() == 0
    hits = marched.t_mid[0][marched.valid[0]]
    # The ball's front is at 7 cm; pruning by the grid's transmittance (lagged by one cell diagonal) leaves the
    # dilation cell in front of it and about two cell diagonals behind.
    diagonal = float(grid.cell_size.norm())
    assert hits.numel() > 0 and hits.min() > 0.07 - 2 * diagonal
    assert hits.max() < 0.07 + 3 * diagonal
    torch.testing.assert_close(marched.deltas[0][marched.valid[0]], torch.full((hits.numel(),), 0.18 / 256))


def test_dense_stretches_are_thinned_evenly_to_max_samples() -> None:
    grid = OccupancyGrid(LOW, HIGH, resolution=4)  # fully occupied
    rays = camera_rays(K, torch.eye(4), torch.tensor([[31.5, 23.5]]))
    marched = occupied_samples(
        rays.origins,
        rays.directions,
        torch.tensor([0.02]),
        torch.tensor([0.2]),
        grid,
        candidates=256,
        max_samples=64,
        stratified=False,
        generator=None,
        transmittance_pruning=False,
    )
    assert bool(marched.valid.all())
    # 227 of the 256 steps lie inside the box (z < 0.2): thinned by 4, each kept step owns 4 steps' length.
    torch.testing.assert_close(marched.deltas[0], torch.full((64,), 4 * 0.18 / 256))
    assert torch.all(marched.t_mid[0].diff() > 0)


def test_rendering_through_the_grid_matches_dense_sampling_with_fewer_evaluations() -> None:
    field = BallField()
    grid = _measured_grid(field)
    pixels = torch.stack(torch.meshgrid(torch.arange(0.5, 64, 4.0), torch.arange(0.5, 48, 4.0), indexing="xy"), -1)
    rays = camera_rays(K, torch.eye(4), pixels.reshape(-1, 2))
    dense = SamplingConfig(near_m=0.02, far_m=0.2, uniform_count=512, importance_count=0)
    marching = SamplingConfig(near_m=0.02, far_m=0.2, uniform_count=16, march_candidates=512, march_max_samples=64)
    field.evaluated = 0
    reference = render_rays(network(field), rays, dense, stratified=False)
    dense_count, field.evaluated = field.evaluated, 0
    out = render_rays(network(field), rays, marching, stratified=False, occupancy=grid)
    assert field.evaluated < dense_count / 10
    # Grazing rays cross a sub-millimetre chord that thinned samples (64 of the occupied steps) can step over.
    differs = (out.opacity - reference.opacity).abs() > 0.02
    assert differs.float().mean() <= 0.02
    torch.testing.assert_close(out.rgb[~differs], reference.rgb[~differs], atol=0.02, rtol=0)
    hit = (reference.opacity > 0.5) & ~differs
    assert hit.sum() > 10
    torch.testing.assert_close(out.depth[hit], reference.depth[hit], atol=1e-3, rtol=0)


def test_grid_state_round_trip_and_bad_settings() -> None:
    grid = _measured_grid(BallField(), resolution=8)
    restored = OccupancyGrid.from_state_dict(grid.state_dict(), "cpu")
    assert torch.equal(restored.occupied, grid.occupied) and restored.updates == 1
    with pytest.raises(RenderError, match="resolution"):
        OccupancyGrid(LOW, HIGH, resolution=1)
    with pytest.raises(RenderError, match="high > low"):
        OccupancyGrid(HIGH, LOW)
    with pytest.raises(RenderError, match=r"\(N, 3\)"):
        occupied_samples(
            torch.zeros(2, 2),
            torch.zeros(2, 3),
            torch.zeros(2),
            torch.ones(2),
            grid,
            candidates=8,
            max_samples=4,
            stratified=False,
            generator=None,
        )
