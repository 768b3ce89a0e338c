"""render_rays / render_image end to end on analytic fields (a density slab, a plane SDF) and the real fields."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from stereo_nerf_core.fields import (
    Field,
    FieldOutput,
    HashGridConfig,
    NerfField,
    NerfFieldConfig,
    SdfField,
    SdfFieldConfig,
)
from stereo_nerf_core.geometry import make_se3, rotation_about_axis
from stereo_nerf_core.models import density_callbacks, sdf_callbacks
from stereo_nerf_core.render import (
    RenderError,
    SamplingConfig,
    camera_rays,
    image_rays,
    render_image,
    render_rays,
    se3_exp,
)
from stereo_nerf_core.render.callbacks import RadianceCallbacks

Z0 = 0.08
K = torch.tensor([[100.0, 0.0, 31.5], [0.0, 100.0, 23.5], [0.0, 0.0, 1.0]])
CONFIG = SamplingConfig(near_m=0.02, far_m=0.2, uniform_count=32, gaussian_count=32, importance_count=64)
SMALL_GRID = HashGridConfig(levels=8, log2_table_size=15, base_resolution=8, max_resolution=256)


def network(field: Field) -> RadianceCallbacks:
    """``field`` as render callbacks: the density pair or NeuS's opacity pair, by its kind."""
    return sdf_callbacks(field) if field.mode == "sdf" else density_callbacks(field)


class SlabField(Field):
    """NeRF stub: density rises to 1e5 / m over ~0.1 mm at world z = Z0 (opaque beyond); colour (0.2, 0.5, 0.8)."""

    mode = "nerf"

    def forward(self, positions: Tensor, directions: Tensor) -> FieldOutput:
        density = 1e5 * torch.sigmoid((positions[:, 2] - Z0) / 1e-4)
        rgb = torch.tensor([0.2, 0.5, 0.8]).expand(positions.shape[0], 3)
        return FieldOutput(rgb=rgb, density=density)


class PlaneSdfField(Field):
    """SDF stub: the plane z = Z0 facing the camera, sdf = Z0 - z, fixed sharpness."""

    mode = "sdf"

    def __init__(self, inv_s: float = 2000.0) -> None:
        super().__init__()
        self._inv_s = torch.tensor(inv_s)

    def inv_s(self) -> Tensor:
        return self._inv_s

    def forward(self, positions: Tensor, directions: Tensor) -> FieldOutput:
        gradient = torch.tensor([0.0, 0.0, -1.0]).expand(positions.shape[0], 3)
        return FieldOutput(rgb=torch.full_like(positions, 0.5), sdf=Z0 - positions[:, 2], gradient=gradient)


def _rays(n: int = 64) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(n, 2, generator=generator) * torch.tensor([63.0, 47.0])
    return pixels, torch.eye(4)


@pytest.mark.parametrize("field", [SlabField(), PlaneSdfField()], ids=["nerf-slab", "sdf-plane"])
@pytest.mark.parametrize("with_prior", [False, True])
def test_depth_of_an_analytic_surface(field: Field, with_prior: bool) -> None:
    pixels, T = _rays()
    rays = camera_rays(K, T, pixels)
    prior = torch.full((64,), Z0 + 0.003) if with_prior else None  # a prior 3 mm off still finds the surface
    out = render_rays(network(field), rays, CONFIG, depth_prior=prior, confidence=None, generator=torch.Generator())
    s = CONFIG.gaussian_count + CONFIG.uniform_count if with_prior else CONFIG.uniform_count + CONFIG.importance_count
    assert out.weights.shape == (64, s) and out.t.shape == (64, s)
    assert out.deltas is not None and out.deltas.shape == (64, s)
    torch.testing.assert_close(out.opacity, torch.ones(64), atol=1e-3, rtol=0)
    # Z (not ray distance) at every pixel: the plane is perpendicular to the optical axis. Tolerance 1 mm, a sixth
    # of the 5.6 mm coarse spacing (worst case over 20 seeds: 0.44 mm).
    torch.testing.assert_close(out.depth, torch.full((64,), Z0), atol=1e-3, rtol=0)
    if field.mode == "sdf":
        assert out.normals is not None and out.gradients is not None and out.gradients.shape == (64 * s, 3)
        torch.testing.assert_close(out.normals, torch.tensor([0.0, 0.0, -1.0]).expand(64, 3), atol=1e-4, rtol=0)
    else:
        assert out.normals is None and out.gradients is None
        torch.testing.assert_close(out.rgb, torch.tensor([0.2, 0.5, 0.8]).expand(64, 3), atol=1e-3, rtol=0)


def test_depth_is_z_for_a_moved_camera() -> None:
    # Camera rotated 20 degrees about y and moved: the plane z_world = Z0 is seen obliquely; the rendered Z must
    # equal the camera-frame depth of the ray's intersection with the plane.
    T = torch.from_numpy(make_se3(rotation_about_axis([0.0, 1.0, 0.0], 0.35), [0.01, 0.0, -0.02])).float()
    pixels, _ = _rays(32)
    rays = camera_rays(K, T, pixels)
    out = render_rays(network(PlaneSdfField(4000.0)), rays, SamplingConfig(near_m=0.02, far_m=0.3, importance_count=96))
    t_hit = (Z0 - rays.origins[:, 2]) / rays.directions[:, 2]
    torch.testing.assert_close(out.depth, t_hit * rays.z_per_distance, atol=5e-4, rtol=0)


def test_real_fields_render_on_cpu() -> None:
    torch.manual_seed(0)
    bounds = {"bounds_min": [-0.1, -0.1, 0.0], "bounds_max": [0.1, 0.1, 0.2]}
    pixels, T = _rays(32)
    rays = camera_rays(K, T, pixels)
    sdf = SdfField(SdfFieldConfig(grid=SMALL_GRID, init_inv_s=2000.0), **bounds)
    out = render_rays(network(sdf), rays, CONFIG)
    torch.testing.assert_close(out.depth, torch.full((32,), Z0), atol=1e-3, rtol=0)  # the plane initialisation
    nerf = NerfField(NerfFieldConfig(grid=SMALL_GRID), **bounds)
    nerf.train()
    out = render_rays(
        network(nerf), rays, CONFIG, depth_prior=torch.full((32,), Z0), generator=torch.Generator().manual_seed(1)
    )
    assert torch.isfinite(out.rgb).all() and (out.opacity >= 0).all() and (out.opacity <= 1 + 1e-6).all()
    out.rgb.mean().backward()
    assert nerf.encoding.table.grad is not None


def test_background_fills_transparent_rays() -> None:
    class Empty(SlabField):
        def forward(self, positions: Tensor, directions: Tensor) -> FieldOutput:
            return FieldOutput(rgb=torch.zeros_like(positions), density=torch.zeros(positions.shape[0]))

    rays = camera_rays(K, torch.eye(4), _rays(4)[0])
    out = render_rays(network(Empty()), rays, CONFIG, background=torch.tensor([1.0, 0.0, 0.5]))
    torch.testing.assert_close(out.rgb, torch.tensor([1.0, 0.0, 0.5]).expand(4, 3))
    assert torch.equal(out.depth, torch.zeros(4)) and torch.equal(out.opacity, torch.zeros(4))


def test_missing_prior_falls_back_to_uniform_samples() -> None:
    rays = camera_rays(K, torch.eye(4), torch.tensor([[31.5, 23.5]] * 3))
    prior = torch.tensor([float("nan"), Z0, Z0])
    confidence = torch.tensor([1.0, 0.0, 1.0])
    out = render_rays(
        network(SlabField()), rays, CONFIG, depth_prior=prior, confidence=confidence, generator=torch.Generator()
    )
    spacing = (CONFIG.far_m - CONFIG.near_m) / 64
    assert out.t[:2].diff(dim=1).max().item() < 2 * spacing  # uniform over [near, far]
    assert (out.t[2] - Z0).abs().lt(0.01).sum().item() >= CONFIG.gaussian_count  # the guided ray
    torch.testing.assert_close(out.depth, torch.full((3,), Z0), atol=1e-3, rtol=0)


def test_gradient_flows_to_a_pose_correction() -> None:
    xi = torch.zeros(6, requires_grad=True)
    rays = camera_rays(K, torch.eye(4) @ se3_exp(xi), _rays(16)[0])
    out = render_rays(network(PlaneSdfField(500.0)), rays, CONFIG)
    out.depth.sum().backward()
    assert xi.grad is not None and torch.isfinite(xi.grad).all()
    assert xi.grad[2].item() < 0  # moving the camera forward (+z) brings the plane closer


def test_render_image_is_row_major_chunked_and_deterministic() -> None:
    field = PlaneSdfField()
    full = render_image(network(field), K, torch.eye(4), 64, 48, CONFIG)
    chunked = render_image(network(field), K, torch.eye(4), 64, 48, CONFIG, chunk=1000)
    assert full.rgb.shape == (64 * 48, 3) and full.depth.shape == (64 * 48,) and full.gradients is None
    assert full.normals is not None and full.normals.shape == (64 * 48, 3)
    torch.testing.assert_close(full.depth, chunked.depth)
    torch.testing.assert_close(full.depth, torch.full((64 * 48,), Z0), atol=5e-4, rtol=0)
    rays = image_rays(K, torch.eye(4), 64, 48)
    one = render_rays(network(field), rays.index(slice(100, 101)), CONFIG, stratified=False)
    torch.testing.assert_close(one.t[0], full.t[100])


def test_bad_inputs_raise() -> None:
    rays = camera_rays(K, torch.eye(4), _rays(8)[0])
    with pytest.raises(RenderError, match=r"\(N,\)"):
        render_rays(network(SlabField()), rays, CONFIG, depth_prior=torch.zeros(7))
    with pytest.raises(RenderError, match=r"\(3,\) or \(N, 3\)"):
        render_rays(network(SlabField()), rays, CONFIG, background=torch.zeros(2))
    with pytest.raises(ValueError):
        SamplingConfig(near_m=0.2, far_m=0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fields_train_and_render_on_cuda_under_autocast() -> None:
    device = torch.device("cuda")
    torch.manual_seed(0)
    bounds = {"bounds_min": [-0.1, -0.1, 0.0], "bounds_max": [0.1, 0.1, 0.2]}
    generator = torch.Generator(device=device).manual_seed(0)
    rays = camera_rays(K.to(device), torch.eye(4, device=device), _rays(256)[0].to(device))
    prior = torch.full((256,), Z0, device=device)
    for field in (
        NerfField(NerfFieldConfig(grid=SMALL_GRID), **bounds).to(device),
        SdfField(SdfFieldConfig(grid=SMALL_GRID, init_inv_s=2000.0), **bounds).to(device),
    ):
        field.train()
        with torch.autocast("cuda", dtype=torch.float16):
            out = render_rays(network(field), rays, CONFIG, depth_prior=prior, generator=generator)
        assert out.rgb.dtype == torch.float32 and out.depth.device.type == "cuda"
        loss = out.rgb.mean() + (out.gradients.norm(dim=1).mean() if out.gradients is not None else 0.0)
        loss.backward()
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in field.parameters())
        image = render_image(network(field), K.to(device), torch.eye(4, device=device), 64, 48, CONFIG)
        assert image.depth.shape == (64 * 48,) and torch.isfinite(image.depth).all()
    torch.testing.assert_close(image.depth, torch.full((64 * 48,), Z0, device=device), atol=1e-3, rtol=0)
