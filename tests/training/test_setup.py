"""Scene bounds, depth range and the defaults a trainer derives from its first keyframes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from stereo_nerf_core.devices import resolve_device
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.fields.sdf_field import SdfFieldConfig
from stereo_nerf_core.models import ModelError, NerfModel, build_model
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.scene_bounds import SceneBounds, bounds_from_keyframes
from stereo_nerf_core.training.setup import (
    default_field_config,
    depth_range,
    scene_sampling,
)
from tests.training.scenes import PLANE_Z_M, plane_keyframe, small_config


def test_bounds_hold_the_prior_points_with_padding_and_the_depth_range_covers_them() -> None:
    keyframes = [plane_keyframe(index) for index in range(4)]
    bounds = bounds_from_keyframes(keyframes, padding=0.1)
    assert bounds.minimum[2] < PLANE_Z_M < bounds.maximum[2]
    extent = float((bounds.maximum - bounds.minimum).max()) / 1.2  # the points' box before padding
    assert bounds.maximum[2] - PLANE_Z_M == pytest.approx(0.1 * extent, rel=0.01)  # room behind the flat surface
    near, far = depth_range(bounds, keyframes)
    assert 0 < near < 0.075 and far > 0.085
    sampling = scene_sampling(bounds, keyframes, small_config())
    assert (sampling.near_m, sampling.far_m) == (near, far)
    assert sampling.sigma_min_m == pytest.approx(0.02 * 0.08, rel=0.05)  # 2 % of the median prior depth
    with pytest.raises(TrainingError, match="no prior depth"):
        bounds_from_keyframes([dataclasses.replace(keyframes[0], depth=np.zeros_like(keyframes[0].depth))], padding=0.1)
    with pytest.raises(TrainingError, match="finite corners"):
        SceneBounds(np.zeros(3), np.zeros(3))


def test_field_defaults_follow_the_scene() -> None:
    keyframes = [plane_keyframe(index) for index in range(3)]
    bounds = bounds_from_keyframes(keyframes, padding=0.1)
    sdf = default_field_config(small_config(mode="sdf"), bounds, keyframes)
    assert isinstance(sdf, SdfFieldConfig) and sdf.init == "plane"
    assert sdf.init_plane_point_m[2] == pytest.approx(PLANE_Z_M, abs=1e-4)
    assert sdf.init_plane_normal[2] < -0.99  # facing the cameras
    assert sdf.grid.levels == 6 and sdf.grid.max_resolution == 128
    no_prior = [dataclasses.replace(k, depth=np.zeros_like(k.depth)) for k in keyframes]
    monocular = default_field_config(small_config(mode="sdf"), bounds, no_prior)  # an endoscope: one way
    assert isinstance(monocular, SdfFieldConfig) and monocular.init == "plane"
    np.testing.assert_allclose(monocular.init_plane_point_m, 0.5 * (bounds.minimum + bounds.maximum))
    turned = [dataclasses.replace(k, T_world_camera=np.diag([-1.0, 1.0, -1.0, 1.0])) for k in no_prior[:1]]
    around = default_field_config(small_config(mode="sdf"), bounds, [no_prior[0], *turned])  # facing each other
    assert isinstance(around, SdfFieldConfig) and around.init == "sphere"
    nerf_config = default_field_config(small_config(), bounds, keyframes)
    box = {"bounds_min": bounds.minimum.tolist(), "bounds_max": bounds.maximum.tolist()}
    model = build_model("nerf", nerf_config, **box, seed=3)
    again = build_model("nerf", nerf_config, **box, seed=3)
    assert isinstance(model, NerfModel)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    sampling = scene_sampling(bounds, keyframes, small_config())
    model.initialise(sampling)
    inside = torch.tensor([[0.0, 0.0, PLANE_Z_M]])
    density = float(model.geometry_at(inside).detach())
    assert density == pytest.approx(1.0 / (sampling.far_m - sampling.near_m), rel=0.2)
    with pytest.raises(ModelError, match="the nerf model needs a NerfFieldConfig"):
        build_model("nerf", sdf, **box, seed=0)
    with pytest.raises(ConfigError, match=r"trainer\.mode must be one of"):
        build_model("gaussians", sdf, **box, seed=0)
    assert resolve_device("cpu", parameter="trainer.device") == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto", parameter="trainer.device") == "cpu"
        with pytest.raises(ConfigError, match=r"trainer\.device is 'cuda' but this torch has no CUDA"):
            resolve_device("cuda", parameter="trainer.device")
    with pytest.raises(ConfigError, match=r"trainer\.device is 'gpu': not a torch device"):
        resolve_device("gpu", parameter="trainer.device")
