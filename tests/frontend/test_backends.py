"""Depth prior backends on hand-checkable pairs: planes at known disparities, broken regions, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.frontend.depth_prior import make_prior_backend, prior_backend_names
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.sgbm import sgbm_depth_prior
from stereo_nerf_core.frontend.vertical import estimate_vertical_model
from tests.frontend.prior_helpers import BASELINE_M, FX, plane_pair, rig

INNER = np.s_[10:-10, 40:-10]  # away from the left strip that the right image does not see


def test_registry_names_every_backend() -> None:
    assert {"sgbm", "seeded", "torchscript"} <= set(prior_backend_names())
    with pytest.raises(ConfigError, match=r"unknown depth_prior\.backend 'census'"):
        make_prior_backend(DepthPriorConfig(backend="census"))


@pytest.mark.parametrize("disparity", [10.4, 15.7])
def test_sgbm_recovers_a_plane_with_subpixel_accuracy(disparity: float) -> None:
    left, right = plane_pair(disparity, rgb=True)
    prior = make_prior_backend(DepthPriorConfig()).estimate(left, right, rig())
    inner = prior.valid[INNER]
    assert inner.mean() > 0.99
    values = prior.disparity[INNER][inner]
    assert np.median(values) == pytest.approx(disparity, abs=0.05)  # SGBM alone pixel-locks by 0.1-0.2 px
    assert np.mean(np.abs(values - disparity)) < 0.1
    assert np.median(prior.depth[INNER][inner]) == pytest.approx(FX * BASELINE_M / disparity, rel=0.005)
    assert prior.confidence.min() >= 0.0 and prior.confidence.max() <= 1.0
    assert prior.confidence[~prior.valid].max(initial=0.0) == 0.0
    assert np.median(prior.confidence[INNER][prior.matched[INNER]]) > 0.8


def test_downscaled_matching_is_refined_back_to_subpixel_accuracy() -> None:
    left, right = plane_pair(21.3, (160, 576), rgb=True)  # matched at 288 x 80, refined at 576 x 160
    calibration = rig(576, 160)
    prior = sgbm_depth_prior(left, right, calibration, DepthPriorConfig(sgbm_downscale=2))
    unrefined = sgbm_depth_prior(
        left, right, calibration, DepthPriorConfig(sgbm_downscale=2, subpixel_refinement=False)
    )
    inner = prior.valid[INNER]
    assert inner.mean() > 0.99
    assert np.median(prior.disparity[INNER][inner]) == pytest.approx(21.3, abs=0.05)
    assert abs(np.median(unrefined.disparity[INNER][unrefined.valid[INNER]]) - 21.3) > 0.2  # half-size SGBM alone
    assert np.mean(np.abs(prior.disparity[INNER][inner] - 21.3)) < 0.1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sgbm_downscale": 3}, "sgbm_downscale must be 1, 2 or 4"),
        ({"device": "gpu"}, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
        ({"filled_confidence": 1.5}, r"filled_confidence = 1\.5 is out of range"),
        ({"seed_search_px": 0}, "seed_search_px = 0 is out of range"),
    ],
)
def test_new_parameters_are_checked(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DepthPriorConfig(**change)  # type: ignore[arg-type]


def test_sgbm_fills_a_left_right_inconsistent_region_with_lower_confidence() -> None:
    left, right = plane_pair(10.4)
    right[:, 60:100] = np.random.default_rng(1).integers(0, 255, (144, 40))  # no correspondence there
    region = np.s_[:, 75:105]
    raw = sgbm_depth_prior(left, right, rig(), DepthPriorConfig(fill_holes=False))
    assert raw.valid[region].mean() < 0.3 and raw.filled is None
    prior = sgbm_depth_prior(left, right, rig(), DepthPriorConfig())
    assert prior.filled is not None and prior.filled[region].mean() > 0.7
    assert prior.valid[region].mean() > 0.95
    # the fill continues the plane; filled pixels carry at most filled_confidence
    assert np.median(prior.disparity[region][prior.filled[region]]) == pytest.approx(10.4, abs=0.5)
    assert prior.confidence[prior.filled].max() <= DepthPriorConfig().filled_confidence + 1e-6
    assert np.median(prior.confidence[prior.matched]) > 0.8
    # the raw prior stays reachable from the filled one
    np.testing.assert_array_equal(prior.without_filled().valid, prior.matched)
    assert prior.without_filled().valid[region].mean() < 0.3


def test_vertical_misalignment_is_measured_and_removed() -> None:
    left, right = plane_pair(10.4, vertical_px=2.0)  # right rows 2 px too high: y_left - y_right = 2
    model, _, _ = estimate_vertical_model(left, right, min_disparity=2, max_disparity=34, max_offset_px=8.0)
    assert model.matches > 50 and model.coefficients[0] == pytest.approx(2.0, abs=0.1)
    assert np.abs(model.coefficients[1:]).max() < 0.1
    corrected = sgbm_depth_prior(left, right, rig(), DepthPriorConfig(fill_holes=False))
    plain = sgbm_depth_prior(left, right, rig(), DepthPriorConfig(fill_holes=False, vertical_correction=False))
    assert corrected.valid[INNER].mean() > 0.95
    assert np.median(corrected.disparity[INNER][corrected.valid[INNER]]) == pytest.approx(10.4, abs=0.05)
    errors = np.abs(plain.disparity[INNER][plain.valid[INNER]] - 10.4)
    assert plain.valid[INNER].mean() < 0.9 or np.mean(errors) > 0.2
    # a rectified pair gets no correction at all (nothing to resample)
    aligned, _ = plane_pair(10.4)
    identity, _, _ = estimate_vertical_model(
        aligned, plane_pair(10.4)[1], min_disparity=2, max_disparity=34, max_offset_px=8
    )
    assert identity.is_identity


def test_a_pair_that_is_not_rectified_is_refused() -> None:
    left, right = plane_pair(10.4, vertical_px=20.0)
    with pytest.raises(FrontendError, match=r"does not look rectified: .* median vertical offset .* 20\.\d px"):
        sgbm_depth_prior(left, right, rig(), DepthPriorConfig())
    sgbm_depth_prior(left, right, rig(), DepthPriorConfig(max_vertical_offset_px=0.0))  # check disabled


def test_seeded_grows_a_plane_from_sparse_matches() -> None:
    left, right = plane_pair(10.4, (144, 192), rgb=True)
    prior = make_prior_backend(DepthPriorConfig(backend="seeded", fill_holes=False)).estimate(left, right, rig())
    inner = prior.valid[INNER]
    assert inner.mean() > 0.9
    assert np.median(prior.disparity[INNER][inner]) == pytest.approx(10.4, abs=0.05)
    assert np.mean(np.abs(prior.disparity[INNER][inner] - 10.4)) < 0.15
    assert prior.confidence.min() >= 0.0 and prior.confidence.max() <= 1.0


def test_seeded_without_sparse_matches_is_a_clear_error() -> None:
    blank = np.full((144, 192, 3), 128, np.uint8)
    with pytest.raises(
        FrontendError, match=r"seeded prior: no reliable sparse matches .* use depth_prior\.backend: sgbm"
    ):
        make_prior_backend(DepthPriorConfig(backend="seeded")).estimate(blank, blank, rig())


class _PaddedWidth(torch.nn.Module):
    """Answers the padded input width as the disparity everywhere: checks padding, cropping and units."""

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return torch.full_like(left[:, :1], float(left.shape[3])) + 0.0 * right[:, :1]


class _WithConfidence(torch.nn.Module):
    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full_like(left[:, :1], 20.0), left[:, :1]


class _HalfSize(torch.nn.Module):
    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return left[:, :1, ::2, ::2]


pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _script(module: torch.nn.Module, path: Path) -> str:
    torch.jit.script(module).save(str(path))
    return str(path)


def test_torchscript_backend_units_padding_and_confidence(tmp_path: Path) -> None:
    calibration = rig(100, 70)
    left = np.full((70, 100, 3), 200, np.uint8)
    model_path = _script(_PaddedWidth(), tmp_path / "w.pt")
    backend = make_prior_backend(
        DepthPriorConfig(backend="torchscript", model_path=model_path, device="cpu", min_depth_m=0.001)
    )
    prior = backend.estimate(left, left, calibration)
    # inputs are padded to 128 x 96 (multiples of 32); the output is cropped back to the image
    assert prior.disparity.shape == (70, 100) and np.all(prior.disparity == 128.0)
    assert np.allclose(prior.depth, FX * BASELINE_M / 128.0) and np.all(prior.confidence == 1.0)
    backend = make_prior_backend(
        DepthPriorConfig(backend="torchscript", model_path=_script(_WithConfidence(), tmp_path / "c.pt"))
    )
    prior = backend.estimate(left, left[..., :1].repeat(3, axis=2), calibration)
    assert np.allclose(prior.disparity, 20.0) and np.allclose(prior.confidence, 200 / 255)
    grey = backend.estimate(left[..., 0], left[..., 0], calibration)  # grey inputs are repeated over RGB
    assert np.allclose(grey.disparity, 20.0)


def test_torchscript_backend_errors_name_the_parameter_and_path(tmp_path: Path) -> None:
    with pytest.raises(FrontendError, match=r"depth_prior\.model_path is empty"):
        make_prior_backend(DepthPriorConfig(backend="torchscript"))
    missing = tmp_path / "missing.pt"
    with pytest.raises(FrontendError, match=f"depth_prior.model_path {missing}: no such file"):
        make_prior_backend(DepthPriorConfig(backend="torchscript", model_path=str(missing)))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model")
    with pytest.raises(FrontendError, match=f"depth_prior.model_path {garbage}: not a TorchScript file"):
        make_prior_backend(DepthPriorConfig(backend="torchscript", model_path=str(garbage)))
    half = make_prior_backend(
        DepthPriorConfig(backend="torchscript", model_path=_script(_HalfSize(), tmp_path / "half.pt"))
    )
    image = np.zeros((64, 96, 3), np.uint8)
    with pytest.raises(
        FrontendError, match=r"returned a disparity of shape \(1, 1, 32, 48\); expected \(1, 1, 64, 96\)"
    ):
        half.estimate(image, image, rig(96, 64))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"depth_prior\.device is 'cuda' but this torch has no CUDA"):
            make_prior_backend(
                DepthPriorConfig(backend="torchscript", model_path=str(tmp_path / "half.pt"), device="cuda")
            )


@pytest.mark.parametrize("name", ["sgbm", "seeded"])
def test_backends_refuse_inputs_that_do_not_fit(name: str) -> None:
    backend = make_prior_backend(DepthPriorConfig(backend=name))
    left, right = plane_pair(10.0)
    with pytest.raises(FrontendError, match="differ in size"):
        backend.estimate(left, right[:, :100], rig())
    with pytest.raises(FrontendError, match="uint8"):
        backend.estimate(left.astype(np.float32), right.astype(np.float32), rig())
    with pytest.raises(FrontendError, match="calibration is"):
        backend.estimate(left[:100], right[:100], rig())
