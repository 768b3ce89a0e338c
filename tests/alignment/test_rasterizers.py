"""Soft and hard silhouettes: pixel-centre convention, unbiased outline, gradients, tiling, SoftRas's bias."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stereo_nerf_core.alignment import (
    HardRasterizer,
    Mesh,
    SilhouetteRenderer,
    edge_topology,
    fold_edges,
    soft_iou_loss,
    softras_silhouette,
)
from stereo_nerf_core.alignment.tiles import covering_grid, overlapping_pairs
from stereo_nerf_core.geometry import make_se3
from tests.alignment.alignment_helpers import make_case


def _square(half: float, z: float) -> Mesh:
    """Two triangles forming the square |x|, |y| <= half at depth z (object frame = camera frame)."""
    v = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    return Mesh(v, np.array([[0, 1, 2], [0, 2, 3]]))


def _cube(half: float) -> Mesh:
    corners = np.array([[x, y, z] for x in (-half, half) for y in (-half, half) for z in (-half, half)])
    faces = [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1]]
    faces += [[2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
    return Mesh(corners, np.array(faces))


def test_hard_silhouette_covers_exactly_the_pixel_centres_inside() -> None:
    # f = 10 px at z = 1 m: the square spans u, v in [cx - 4.6, cx + 4.6] -> centres cx - 4 .. cx + 4.
    K = np.array([[10.0, 0.0, 10.0], [0.0, 10.0, 8.0], [0.0, 0.0, 1.0]])
    mask = HardRasterizer(_square(0.46, 1.0)).render(np.eye(4)[None], K, 21, 17)[0]
    rows, cols = np.nonzero(mask)
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (6, 14, 4, 12)
    assert mask.sum() == 81


def test_contour_silhouette_is_the_exact_mask_at_one_half_and_unbiased(mesh: Mesh) -> None:
    case = make_case(mesh)
    renderer = SilhouetteRenderer(mesh)
    hard = renderer.hard(case.T_true, case.K, case.size, case.size)
    T = torch.as_tensor(case.T_true, dtype=torch.float32)
    for sigma in (0.5, 3.0):
        soft = renderer.soft(T, case.K, case.size, case.size, sigma_px=sigma).numpy()
        assert np.array_equal(soft > 0.5, hard)
    assert abs(renderer.soft(T, case.K, case.size, case.size, sigma_px=0.5).sum() - hard.sum()) < 0.01 * hard.sum()
    softras = renderer.soft(T, case.K, case.size, case.size, sigma_px=0.5, rasterizer="softras").numpy()
    assert (softras > 0.5).sum() > 1.05 * hard.sum()  # the probabilistic union dilates the outline


def test_softras_matches_a_single_triangle_analytically() -> None:
    points = torch.tensor([[2.0, 2.0], [12.0, 2.0], [2.0, 12.0]])
    soft = softras_silhouette(points, torch.tensor([[0, 1, 2]]), 16, 16, sigma_px=0.5)
    assert soft[5, 5] > 0.99 and soft[14, 14] < 1e-3
    assert float(soft[2, 7]) == pytest.approx(0.5, abs=0.01)  # on an edge: p = 1/2


def test_soft_loss_gradient_matches_finite_differences(mesh: Mesh) -> None:
    case = make_case(mesh, size=64)
    renderer = SilhouetteRenderer(mesh, dtype=torch.float64)
    target = torch.as_tensor(case.view().mask, dtype=torch.float64)
    shift = torch.tensor([0.0008, -0.0005, 0.004], dtype=torch.float64, requires_grad=True)

    def loss(offset: torch.Tensor) -> torch.Tensor:
        T = torch.as_tensor(case.T_true) + torch.cat(
            [torch.cat([torch.zeros(3, 3), offset[:, None]], 1), torch.zeros(1, 4)]
        )
        # A wide margin makes the cut-off's steps (sigmoid(-margin) per pixel) negligible for the differences.
        return soft_iou_loss(renderer.soft(T, case.K, 64, 64, sigma_px=2.0, margin=14.0), target)

    loss(shift).backward()
    assert shift.grad is not None
    for axis in range(3):
        step = torch.zeros(3, dtype=torch.float64)
        step[axis] = 1e-5
        numeric = (loss(shift.detach() + step) - loss(shift.detach() - step)) / 2e-5
        assert float(shift.grad[axis]) == pytest.approx(float(numeric), rel=0.05, abs=0.05)
    farther = torch.tensor([0.0, 0.0, 0.004], dtype=torch.float64, requires_grad=True)
    loss(farther).backward()
    assert farther.grad is not None and float(farther.grad[2]) > 0  # too far already: moving away costs


def test_fold_edges_of_a_cube_seen_face_on_are_its_outline() -> None:
    cube = _cube(0.1)
    topology = edge_topology(cube.faces)
    assert topology.edges.shape == (18, 2) and (topology.opposite >= 0).all()
    points = torch.as_tensor(cube.vertices[:, :2] / (cube.vertices[:, 2:] + 1.0) * 100.0 + 50.0)
    index, outward = fold_edges(points, torch.as_tensor(topology.edges), torch.as_tensor(topology.opposite))
    edges = topology.edges[index.numpy()]
    midpoints = (points[edges[:, 0]] + points[edges[:, 1]]).numpy() / 2.0
    # Seen from inside the side faces' planes, only the near face's 4 edges fold: the outline, normals outward.
    assert len(edges) == 4
    assert np.allclose(np.abs(midpoints - 50.0).max(axis=1), 100.0 * 0.1 / 0.9)
    assert np.all(np.sum((midpoints - 50.0) * outward.numpy(), axis=1) > 0)


def test_open_mesh_boundary_edges_fold() -> None:
    square = _square(0.5, 1.0)
    topology = edge_topology(square.faces)
    points = torch.as_tensor(square.vertices[:, :2] * 10.0 + 20.0)
    index, _ = fold_edges(points, torch.as_tensor(topology.edges), torch.as_tensor(topology.opposite))
    assert len(index) == 4  # the diagonal is shared and not folded


def test_tiles_pair_each_box_with_the_tiles_it_overlaps() -> None:
    lo = torch.tensor([[0.0, 0.0], [9.0, 3.0], [40.0, 40.0]])
    hi = torch.tensor([[3.0, 3.0], [17.5, 5.0], [50.0, 50.0]])
    grid = covering_grid(lo[:2], hi[:2], 64, 64, 8)
    assert grid is not None and (grid.tiles_x, grid.tiles_y) == (3, 1)
    item, tile, origin = overlapping_pairs(grid, lo, hi)
    pairs = sorted(zip(item.tolist(), tile.tolist(), strict=True))
    assert pairs == [(0, 0), (1, 1), (1, 2)]
    assert origin[item == 1].tolist() == [[8.0, 0.0], [16.0, 0.0]]


def test_mesh_off_image_gives_an_empty_soft_silhouette_with_a_gradient_path() -> None:
    renderer = SilhouetteRenderer(_square(0.1, 1.0))
    K = np.array([[50.0, 0.0, 15.5], [0.0, 50.0, 15.5], [0.0, 0.0, 1.0]])
    T = torch.as_tensor(make_se3(np.eye(3), [5.0, 0.0, 0.0]), dtype=torch.float32).requires_grad_(True)
    soft = renderer.soft(T, K, 32, 32, sigma_px=1.0)
    assert soft.detach().sum().item() == 0.0
    soft.sum().backward()
    assert T.grad is not None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_soft_silhouette_on_cuda_matches_cpu(mesh: Mesh) -> None:
    case = make_case(mesh, size=64)
    T = torch.as_tensor(case.T_true, dtype=torch.float32)
    cpu = SilhouetteRenderer(mesh).soft(T, case.K, 64, 64, sigma_px=1.0)
    cuda = SilhouetteRenderer(mesh, device="cuda").soft(T.cuda().requires_grad_(True), case.K, 64, 64, sigma_px=1.0)
    assert cuda.device.type == "cuda"
    assert torch.allclose(cuda.detach().cpu(), cpu, atol=1e-4)
    cuda.sum().backward()
