"""NerfField and SdfField: shapes, ranges, initial shapes, gradients, autocast and bad inputs."""

from __future__ import annotations

import pytest
import torch

from stereo_nerf_core.fields import (
    FieldError,
    HashGridConfig,
    NerfField,
    NerfFieldConfig,
    SdfField,
    SdfFieldConfig,
    spherical_harmonics,
    trunc_exp,
)
from stereo_nerf_core.render import eikonal_loss

BOUNDS = {"bounds_min": [-0.1, -0.1, 0.0], "bounds_max": [0.1, 0.1, 0.2]}
SMALL_GRID = HashGridConfig(levels=8, log2_table_size=15, base_resolution=8, max_resolution=256)


def _query(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    positions = torch.rand(n, 3, generator=generator) * 0.2 + torch.tensor([-0.1, -0.1, 0.0])
    directions = torch.nn.functional.normalize(torch.randn(n, 3, generator=generator), dim=1)
    return positions, directions


def _sdf_field(**kwargs: object) -> SdfField:
    torch.manual_seed(0)
    return SdfField(SdfFieldConfig(grid=SMALL_GRID, **kwargs), **BOUNDS)  # type: ignore[arg-type]


def test_nerf_field_outputs() -> None:
    torch.manual_seed(0)
    field = NerfField(NerfFieldConfig(grid=SMALL_GRID), **BOUNDS)
    assert field.mode == "nerf"
    out = field(*_query(100))
    assert out.rgb.shape == (100, 3) and out.density is not None and out.density.shape == (100,)
    assert out.sdf is None and out.gradient is None
    assert (out.rgb >= 0).all() and (out.rgb <= 1).all() and (out.density >= 0).all()
    torch.testing.assert_close(field.density(_query(100)[0]), out.density)
    # View dependence: the same point seen from two directions gets two colours.
    positions, directions = _query(10)
    assert not torch.allclose(field(positions, directions).rgb, field(positions, -directions).rgb)
    with pytest.raises(FieldError, match="no NeuS sharpness"):
        field.inv_s()
    with pytest.raises(FieldError, match="no sdf"):
        field.sdf(positions)


def test_nerf_field_softplus_density_and_backward() -> None:
    torch.manual_seed(0)
    field = NerfField(NerfFieldConfig(grid=SMALL_GRID, density_activation="softplus"), **BOUNDS)
    out = field(*_query(50))
    assert out.density is not None and (out.density > 0).all()
    (out.rgb.sum() + out.density.sum()).backward()
    assert all(p.grad is not None for p in field.parameters())


def test_sdf_field_plane_initialisation_faces_the_camera() -> None:
    field = _sdf_field()
    assert field.mode == "sdf"
    positions, directions = _query(500)
    out = field(positions, directions)
    assert out.sdf is not None and out.gradient is not None
    assert out.rgb.shape == (500, 3) and out.density is None and out.gradient.shape == (500, 3)
    # sdf = z0 - z (positive on the camera side: a camera at the origin looks along +z at tissue at z0 = 8 cm).
    torch.testing.assert_close(out.sdf, 0.08 - positions[:, 2], atol=5e-5, rtol=0)
    torch.testing.assert_close(field.sdf(positions), out.sdf)
    assert (out.gradient.norm(dim=1) - 1).abs().max() < 1e-3
    torch.testing.assert_close(out.gradient.mean(0), torch.tensor([0.0, 0.0, -1.0]), atol=1e-3, rtol=0)
    assert eikonal_loss(out.gradient).item() < 1e-6
    torch.testing.assert_close(field.inv_s(), torch.tensor(100.0))


def test_sdf_field_sphere_initialisation() -> None:
    field = _sdf_field(init="sphere", init_sphere_center_m=(0.0, 0.0, 0.1), init_sphere_radius_m=0.05)
    positions, _ = _query(300)
    expected = (positions - torch.tensor([0.0, 0.0, 0.1])).norm(dim=1) - 0.05
    torch.testing.assert_close(field.sdf(positions), expected, atol=5e-5, rtol=0)


def _perturbed_pair() -> tuple[SdfField, SdfField]:
    fd = _sdf_field(gradient_mode="finite_difference", fd_step_m=2e-6)
    with torch.no_grad():
        fd.encoding.table.uniform_(-0.5, 0.5)
        last = fd.geometry_mlp[-1]
        assert isinstance(last, torch.nn.Linear)
        last.weight[0].normal_(0.0, 0.05)
    autograd = _sdf_field(gradient_mode="autograd")
    autograd.load_state_dict(fd.state_dict())
    return fd, autograd


def test_finite_difference_and_autograd_gradients_agree() -> None:
    fd, autograd = _perturbed_pair()
    positions, directions = _query(400, seed=5)
    g_fd, g_ad = fd(positions, directions).gradient, autograd(positions, directions).gradient
    assert g_fd is not None and g_ad is not None
    assert (g_ad - g_fd.new_tensor([0.0, 0.0, -1.0])).norm(dim=1).median() > 0.1  # the residual matters
    error = (g_fd - g_ad).norm(dim=1) / g_ad.norm(dim=1)
    # The grid is piecewise trilinear: a few points within a step of a cell face differ; the rest agree.
    assert (error < 0.02).float().mean() > 0.95 and error.median() < 0.005


def test_sdf_gradients_train_the_network() -> None:
    for mode in ("finite_difference", "autograd"):
        field = _sdf_field(gradient_mode=mode)
        field.train()
        out = field(*_query(64))
        assert out.gradient is not None
        (eikonal_loss(out.gradient) + out.rgb.mean()).backward()
        assert field.encoding.table.grad is not None and field.encoding.table.grad.abs().sum() > 0
        field.eval()
        with torch.no_grad():
            evaluated = field(*_query(64))
        assert evaluated.gradient is not None and not evaluated.gradient.requires_grad


def test_fields_run_under_cpu_autocast() -> None:
    torch.manual_seed(0)
    for field in (NerfField(NerfFieldConfig(grid=SMALL_GRID), **BOUNDS), _sdf_field(gradient_mode="autograd")):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = field(*_query(32))
        assert out.rgb.dtype == torch.float32 and torch.isfinite(out.rgb).all()


def test_spherical_harmonics_are_orthonormal() -> None:
    # Fibonacci sphere quadrature: mean over uniform directions times 4 pi integrates over the sphere.
    n = 20000
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = torch.pi * (1.0 + 5.0**0.5) * i
    r = (1.0 - z * z).sqrt()
    directions = torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=1).float()
    basis = spherical_harmonics(directions, 4).double()
    assert basis.shape == (n, 16)
    gram = basis.T @ basis * (4.0 * torch.pi / n)
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), atol=2e-3, rtol=0)
    assert spherical_harmonics(directions[:3], 2).shape == (3, 4)


def test_trunc_exp_clamps_its_gradient() -> None:
    x = torch.tensor([0.0, 20.0], requires_grad=True)
    y = trunc_exp(x)
    y.sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(y.detach(), torch.exp(torch.tensor([0.0, 20.0])))
    torch.testing.assert_close(x.grad, torch.exp(torch.tensor([0.0, 15.0])))


def test_bad_inputs_raise_field_errors_naming_the_shape() -> None:
    field = _sdf_field()
    with pytest.raises(FieldError, match=r"\(N, 3\)"):
        field(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(FieldError, match="same N"):
        field(torch.zeros(4, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        field.sdf(torch.zeros(3))
    with pytest.raises(FieldError):
        SdfFieldConfig(init="cube")  # type: ignore[arg-type]
    with pytest.raises(FieldError):
        NerfFieldConfig(sh_degree=5)
    with pytest.raises(FieldError):
        spherical_harmonics(torch.zeros(3, 3), 0)
