"""Multi-resolution hash encoding: layout, interpolation, continuity, clamping, gradients and learning."""

from __future__ import annotations

import math

import pytest
import torch

from stereo_nerf_core.fields import FieldError, HashGridEncoding
from stereo_nerf_core.fields.hash_grid import interpolate_corners, scatter_rows

LOW, HIGH = [-0.1, -0.1, 0.0], [0.1, 0.1, 0.2]


def _points(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, generator=generator) * 0.2 + torch.tensor([-0.1, -0.1, 0.0])


def _encoding(**kwargs: int) -> HashGridEncoding:
    torch.manual_seed(0)
    return HashGridEncoding(bounds_min=LOW, bounds_max=HIGH, **kwargs)


def test_layout_and_output_shape() -> None:
    encoding = _encoding()
    assert encoding.output_dim == 32
    assert encoding.resolutions[0] == 16 and encoding.resolutions[-1] == 2048
    # 16 cells -> 17 vertices -> 32^3 dense entries; 58 cells -> 64^3 = 2^18 dense; 80 cells would need 2^21: hashed.
    assert encoding.dense_levels == (True,) * 5 + (False,) * 11
    assert encoding.table_size == 11 * 2**19 + 2 * 2**18 + 3 * 2**15
    assert encoding(_points(7)).shape == (7, 32)
    assert encoding(_points(0)).shape == (0, 32)


def test_dense_level_reproduces_a_linear_function_exactly() -> None:
    # One dense level of 4 cells (5 vertices -> 8 per axis, index i + 8 j + 64 k). Trilinear interpolation of
    # vertex values a*i + b*j + c*k reproduces the linear function a*X + b*Y + c*Z of grid coordinates.
    encoding = HashGridEncoding(
        bounds_min=[0.0, 0.0, 0.0],
        bounds_max=[1.0, 1.0, 1.0],
        levels=1,
        features_per_level=1,
        log2_table_size=12,
        base_resolution=4,
        max_resolution=4,
    )
    assert encoding.dense_levels == (True,) and encoding.table_size == 512
    index = torch.arange(512)
    i, j, k = index % 8, (index // 8) % 8, index // 64
    with torch.no_grad():
        encoding.table[:, 0] = (1.0 * i + 2.0 * j + 3.0 * k).float()
    x = torch.tensor([[0.1, 0.2, 0.3], [0.5, 0.5, 0.5], [0.99, 0.01, 0.77], [1.0, 1.0, 1.0]])
    expected = 4.0 * (x[:, 0] + 2.0 * x[:, 1] + 3.0 * x[:, 2])
    torch.testing.assert_close(encoding(x)[:, 0], expected, atol=1e-5, rtol=0)


def test_continuity_and_determinism() -> None:
    encoding = _encoding()
    with torch.no_grad():
        encoding.table.uniform_(-1.0, 1.0)
    x = _points(500)
    a, b = encoding(x), encoding(x)
    assert torch.equal(a, b)
    # Trilinear interpolation is Lipschitz: a 1 micrometre step moves each feature by at most
    # (2 * max |table|) * (step / finest cell) * 3 axes.
    step = 1e-6
    cell = 0.2 / 2048
    moved = encoding(x + torch.tensor([step, -step, step]))
    assert (moved - a).abs().max().item() <= 2.0 * 3 * step / cell + 1e-5
    far = encoding(x + 0.01)
    assert (far - a).abs().max().item() > 10 * (moved - a).abs().max().item()


def test_positions_outside_the_bounds_are_clamped() -> None:
    encoding = _encoding()
    with torch.no_grad():
        encoding.table.uniform_(-1.0, 1.0)
    outside = torch.tensor([[0.5, -0.3, 0.1], [-1.0, 0.05, 2.0], [0.0, 0.0, -0.1]])
    clamped = torch.tensor([[0.1, -0.1, 0.1], [-0.1, 0.05, 0.2], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(encoding(outside), encoding(clamped))


def test_gradients_reach_the_table_and_the_positions() -> None:
    encoding = _encoding()
    x = _points(64).requires_grad_(True)
    (encoding(x) ** 2).sum().backward()
    assert encoding.table.grad is not None
    touched = int((encoding.table.grad != 0).any(dim=1).sum())
    assert 0 < touched <= 64 * 16 * 8
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_interpolation_is_twice_differentiable() -> None:
    generator = torch.Generator().manual_seed(1)
    table = torch.randn(20, 2, dtype=torch.float64, generator=generator).requires_grad_(True)
    index = torch.randint(0, 20, (8, 3), generator=generator)
    weights = torch.rand(8, 3, dtype=torch.float64, generator=generator).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t, w: interpolate_corners(t, index, w), (table, weights))
    assert torch.autograd.gradgradcheck(lambda t, w: interpolate_corners(t, index, w), (table, weights))


def test_encoding_computes_in_float32_under_autocast() -> None:
    encoding = _encoding()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = encoding(_points(10).bfloat16())
    assert features.dtype == torch.float32


def test_fits_a_smooth_function() -> None:
    encoding = HashGridEncoding(
        bounds_min=LOW, bounds_max=HIGH, levels=8, log2_table_size=14, base_resolution=4, max_resolution=64
    )
    head = torch.nn.Linear(encoding.output_dim, 1)
    optimiser = torch.optim.Adam([*encoding.parameters(), *head.parameters()], lr=1e-2)
    generator = torch.Generator().manual_seed(3)

    def target(x: torch.Tensor) -> torch.Tensor:
        return torch.sin(30.0 * x[:, 0]) * torch.cos(20.0 * x[:, 1]) + 5.0 * x[:, 2]

    for _ in range(300):
        x = torch.rand(2048, 3, generator=generator) * 0.2 + torch.tensor([-0.1, -0.1, 0.0])
        loss = ((head(encoding(x))[:, 0] - target(x)) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    test = _points(2000, seed=9)
    with torch.no_grad():
        rmse = math.sqrt(((head(encoding(test))[:, 0] - target(test)) ** 2).mean().item())
    assert rmse < 0.05  # the target spans about [-1, 2]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bounds_min": [0.0, 0.0], "bounds_max": [1.0, 1.0]},
        {"bounds_min": [0.0, 0.0, 1.0], "bounds_max": [1.0, 1.0, 1.0]},
        {"bounds_min": [0.0] * 3, "bounds_max": [1.0] * 3, "log2_table_size": 30},
        {"bounds_min": [0.0] * 3, "bounds_max": [1.0] * 3, "base_resolution": 64, "max_resolution": 32},
    ],
)
def test_bad_configuration_raises(kwargs: dict[str, object]) -> None:
    with pytest.raises(FieldError):
        HashGridEncoding(**kwargs)  # type: ignore[arg-type]


def test_bad_positions_shape_names_the_expected_shape() -> None:
    with pytest.raises(FieldError, match=r"\(N, 3\)"):
        _encoding()(torch.zeros(4, 2))


def test_interpolation_matches_plain_indexing() -> None:
    generator = torch.Generator().manual_seed(2)
    table = torch.randn(50, 2, generator=generator).requires_grad_(True)  # float32 pairs: the packed 8-byte gather
    index = torch.randint(0, 50, (8, 40), generator=generator)
    weights = torch.rand(8, 40, generator=generator).requires_grad_(True)
    reference = (table[index] * weights[:, :, None]).sum(dim=0)
    out = interpolate_corners(table, index, weights)
    torch.testing.assert_close(out, reference)
    upstream = torch.randn(40, 2, generator=generator)
    expected = torch.autograd.grad(reference, (table, weights), upstream)
    for got, want in zip(torch.autograd.grad(out, (table, weights), upstream), expected, strict=True):
        torch.testing.assert_close(got, want)


def test_scatter_sums_repeated_rows_per_channel() -> None:
    values = torch.tensor([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0], [100.0, 200.0, 300.0]])
    index = torch.tensor([4, 1, 4])
    summed = scatter_rows(values, index, 6)
    expected = torch.zeros(6, 3)
    expected[1] = torch.tensor([10.0, 20.0, 30.0])
    expected[4] = torch.tensor([101.0, 202.0, 303.0])
    torch.testing.assert_close(summed, expected)
