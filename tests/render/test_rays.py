"""Camera rays (pixel centres, z_per_distance, row-major images, per-ray poses) and the SE(3) exponential."""

from __future__ import annotations

import math

import pytest
import torch

from stereo_nerf_core.geometry import GeometryError, make_se3, rotation_about_axis
from stereo_nerf_core.render import RayBundle, RenderError, camera_rays, image_rays, se3_exp

K = torch.tensor([[500.0, 0.0, 319.5], [0.0, 480.0, 255.5], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _pose() -> torch.Tensor:
    return torch.from_numpy(make_se3(rotation_about_axis([0.2, 1.0, 0.3], 0.4), [0.01, -0.02, 0.03]))


def test_principal_point_ray_is_the_optical_axis() -> None:
    T = _pose()
    rays = camera_rays(K, T, torch.tensor([[319.5, 255.5]], dtype=torch.float64))
    torch.testing.assert_close(rays.origins[0], T[:3, 3])
    torch.testing.assert_close(rays.directions[0], T[:3, 2])
    torch.testing.assert_close(rays.z_per_distance, torch.ones(1, dtype=torch.float64))


def test_corner_rays_and_z_per_distance() -> None:
    T = _pose()
    corners = torch.tensor([[0.0, 0.0], [639.0, 0.0], [0.0, 511.0], [639.0, 511.0]], dtype=torch.float64)
    rays = camera_rays(K, T, corners)
    x = (corners[:, 0] - 319.5) / 500.0
    y = (corners[:, 1] - 255.5) / 480.0
    torch.testing.assert_close(rays.z_per_distance, 1.0 / torch.sqrt(x * x + y * y + 1.0))
    torch.testing.assert_close(rays.directions.norm(dim=1), torch.ones(4, dtype=torch.float64))
    # A point at distance t has camera depth Z = t * z_per_distance and projects back onto its pixel.
    t = 0.1
    world = rays.origins + t * rays.directions
    camera = (world - T[:3, 3]) @ T[:3, :3]
    torch.testing.assert_close(camera[:, 2], t * rays.z_per_distance)
    projected = camera @ K.T
    torch.testing.assert_close(projected[:, :2] / projected[:, 2:], corners)


def test_image_rays_are_row_major_and_match_camera_rays() -> None:
    T = _pose().float()
    rays = image_rays(K.float(), T, 5, 3)
    assert len(rays) == 15 and rays.pixel_ids is not None
    assert torch.equal(rays.pixel_ids, torch.arange(15))
    v, u = 2, 3
    single = camera_rays(K.float(), T, torch.tensor([[float(u), float(v)]]))
    torch.testing.assert_close(rays.directions[v * 5 + u], single.directions[0])


def test_per_ray_poses_and_intrinsics() -> None:
    poses = torch.stack([_pose(), torch.eye(4, dtype=torch.float64)])
    pixels = torch.tensor([[10.0, 20.0], [30.0, 40.0]], dtype=torch.float64)
    batched = camera_rays(K.expand(2, 3, 3), poses, pixels)
    for i in range(2):
        single = camera_rays(K, poses[i], pixels[i : i + 1])
        torch.testing.assert_close(batched.directions[i], single.directions[0])
        torch.testing.assert_close(batched.origins[i], single.origins[0])


def test_se3_exp_zero_is_identity_and_rotation_about_z() -> None:
    torch.testing.assert_close(se3_exp(torch.zeros(6)), torch.eye(4))
    quarter = se3_exp(torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, math.pi / 2], dtype=torch.float64))
    expected_R = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(quarter[:3, :3], expected_R)
    # Pure translation: rho first.
    torch.testing.assert_close(
        se3_exp(torch.tensor([1.0, 2.0, 3.0, 0.0, 0.0, 0.0]))[:3, 3], torch.tensor([1.0, 2.0, 3.0])
    )


def test_se3_exp_matches_the_matrix_exponential() -> None:
    generator = torch.Generator().manual_seed(0)
    xi = torch.randn(5, 2, 6, generator=generator, dtype=torch.float64)
    xi[0, 0, 3:] *= 1e-5  # the small-angle branch
    twist = torch.zeros(5, 2, 4, 4, dtype=torch.float64)
    phi = xi[..., 3:]
    twist[..., 0, 1], twist[..., 0, 2], twist[..., 1, 2] = -phi[..., 2], phi[..., 1], -phi[..., 0]
    twist[..., 1, 0], twist[..., 2, 0], twist[..., 2, 1] = phi[..., 2], -phi[..., 1], phi[..., 0]
    twist[..., :3, 3] = xi[..., :3]
    torch.testing.assert_close(se3_exp(xi), torch.linalg.matrix_exp(twist))


def test_se3_exp_gradient_at_zero_is_the_generator() -> None:
    point = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)

    def moved(xi: torch.Tensor) -> torch.Tensor:
        T = se3_exp(xi)
        return T[:3, :3] @ point + T[:3, 3]

    jacobian = torch.autograd.functional.jacobian(moved, torch.zeros(6, dtype=torch.float64))
    x, y, z = point.tolist()
    hat = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(jacobian, torch.cat([torch.eye(3, dtype=torch.float64), -hat], dim=1))


def test_gradient_flows_to_a_pose_correction() -> None:
    xi = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    rays = camera_rays(K, _pose() @ se3_exp(xi), torch.tensor([[100.0, 50.0], [400.0, 300.0]], dtype=torch.float64))
    (rays.origins + 0.1 * rays.directions).sum().backward()
    assert xi.grad is not None and torch.isfinite(xi.grad).all() and xi.grad.abs().sum() > 0


def test_bad_shapes_raise() -> None:
    with pytest.raises(RenderError, match=r"\(N, 2\)"):
        camera_rays(K, torch.eye(4, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(RenderError, match=r"\(4, 4\)"):
        camera_rays(K, torch.eye(3, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(GeometryError, match=r"\(\.\.\., 6\)"):
        se3_exp(torch.zeros(3))
    with pytest.raises(ValueError, match=r"\(N,\)"):
        RayBundle(origins=torch.zeros(4, 3), directions=torch.zeros(4, 3), z_per_distance=torch.ones(3))
