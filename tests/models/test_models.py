"""The model layer: the registry, each model's callbacks, its own loss terms and its occupancy opacity."""

from __future__ import annotations

import pytest
import torch

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.fields import HashGridConfig, NerfFieldConfig, SdfFieldConfig
from stereo_nerf_core.models import MODELS, ModelError, NerfModel, NeusModel, build_model, model_class
from stereo_nerf_core.render import SamplingConfig, camera_rays, render_rays
from stereo_nerf_core.render.callbacks import RadianceCallbacks
from stereo_nerf_core.render.errors import RenderError

BOX = {"bounds_min": [-0.1, -0.1, 0.0], "bounds_max": [0.1, 0.1, 0.2]}
GRID = HashGridConfig(levels=4, log2_table_size=12, max_resolution=64, base_resolution=8)
K = torch.tensor([[100.0, 0.0, 15.5], [0.0, 100.0, 11.5], [0.0, 0.0, 1.0]])


def _rays(count: int = 64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.rand(count, 2, generator=generator) * torch.tensor([32.0, 24.0])


def test_registry_names_every_model_and_refuses_others_naming_the_parameter() -> None:
    assert set(MODELS) >= {"nerf", "sdf"}
    assert model_class("nerf") is NerfModel and model_class("sdf") is NeusModel
    with pytest.raises(ConfigError, match=r"trainer\.mode must be one of \[.*'nerf'.*\], got 'voxels'"):
        model_class("voxels")
    with pytest.raises(ModelError, match="the sdf model needs an SdfFieldConfig, got NerfFieldConfig"):
        build_model("sdf", NerfFieldConfig(grid=GRID), **BOX, seed=0)


def test_callbacks_need_exactly_one_pair() -> None:
    with pytest.raises(RenderError, match="exactly one pair"):
        RadianceCallbacks(rgb_sigma_fn=lambda s: (s.positions, s.t_mid))
    with pytest.raises(RenderError, match="exactly one pair"):
        RadianceCallbacks(
            rgb_sigma_fn=lambda s: (s.positions, s.t_mid),
            sigma_fn=lambda s: s.t_mid,
            rgb_alpha_fn=lambda s: (s.positions, s.t_mid, None),
            alpha_fn=lambda s: s.t_mid,
        )


def test_neus_model_adds_the_eikonal_term_and_nerf_none() -> None:
    sdf = build_model(
        "sdf",
        SdfFieldConfig(
            grid=GRID,
            init="plane",
            init_plane_point_m=(0.0, 0.0, 0.1),
            init_plane_normal=(0.0, 0.0, -1.0),
            init_inv_s=2000.0,
        ),
        **BOX,
        seed=0,
    )
    nerf = build_model("nerf", NerfFieldConfig(grid=GRID), **BOX, seed=0)
    rays = camera_rays(K, torch.eye(4), _rays())
    config = SamplingConfig(near_m=0.02, far_m=0.19, uniform_count=32, importance_count=32)
    out = render_rays(sdf.callbacks(), rays, config)
    assert out.gradients is not None and out.normals is not None
    # the initial plane z = 0.1 m: depth 0.1 on every ray, unit gradients (eikonal ~ 0), normals towards the camera
    torch.testing.assert_close(out.depth, torch.full((64,), 0.1), atol=2e-3, rtol=0)
    terms = sdf.losses(out, TrainerConfig(eikonal_weight=0.5))
    assert set(terms) == {"eikonal"} and float(terms["eikonal"].detach()) < 1e-3
    assert float(out.normals[:, 2].mean()) < -0.99
    assert nerf.losses(render_rays(nerf.callbacks(), rays, config), TrainerConfig()) == {}


def test_occupancy_opacity_of_each_model() -> None:
    sdf = NeusModel(
        SdfFieldConfig(
            grid=GRID,
            init="plane",
            init_plane_point_m=(0.0, 0.0, 0.1),
            init_plane_normal=(0.0, 0.0, -1.0),
            init_inv_s=2000.0,
        ),
        **BOX,
    )
    on, off = torch.tensor([[0.0, 0.0, 0.1]]), torch.tensor([[0.0, 0.0, 0.15]])
    # the zero-level shell: exp(-|sdf| / band), band = max(cell diagonal, 4 / inv_s) = 0.01 m
    assert float(sdf.occupancy_opacity(on, step_m=0.001, cell_diagonal_m=0.01)) == pytest.approx(1.0, abs=3e-3)
    assert float(sdf.occupancy_opacity(off, step_m=0.001, cell_diagonal_m=0.01)) == pytest.approx(
        torch.exp(torch.tensor(-5.0)).item(), rel=0.05
    )
    nerf = NerfModel(NerfFieldConfig(grid=GRID), **BOX)
    density = float(nerf.geometry_at(on).detach())
    opacity = float(nerf.occupancy_opacity(on, step_m=0.002, cell_diagonal_m=0.01).detach())
    assert opacity == pytest.approx(1.0 - torch.exp(torch.tensor(-density * 0.002)).item(), rel=1e-4)
