"""Self-supervised depth: losses against hand-computed cases, warping on the sample bag, the backend."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from stereo_nerf_core.config import DepthPriorConfig, SelfSupervisedConfig, config_from_parameters
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.frontend.depth_prior import make_prior_backend, prior_backend_names
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.self_supervised.losses import (
    INVALID_ERROR,
    automask,
    edge_aware_smoothness,
    identity_error,
    minimum_reprojection,
    reprojection_error,
    view_synthesis_loss,
)
from stereo_nerf_core.frontend.self_supervised.network import (
    DepthNet,
    disparity_to_depth,
    sigmoid_to_depth,
    sigmoid_to_disparity,
)
from stereo_nerf_core.frontend.self_supervised.training import OnlineDepthTrainer
from stereo_nerf_core.frontend.self_supervised.warping import warp_right_to_left, warp_through_depth
from stereo_nerf_core.frontend.self_supervised.weights import load_weights, save_weights
from stereo_nerf_core.geometry.camera import StereoCalibration
from tests.frontend.self_supervised_helpers import sample_truth_frames

C1 = 0.01**2


def _texture(seed: int = 0, shape: tuple[int, ...] = (1, 3, 24, 32)) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).uniform(0.2, 0.8, shape).astype(np.float32))


def _image(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.astype(np.float32).transpose(2, 0, 1)[None] / 255.0)


def test_identical_images_have_zero_error() -> None:
    image = _texture()
    assert float(reprojection_error(image, image).abs().max()) < 1e-6


@pytest.mark.parametrize("offset", [0.1, -0.25])
def test_constant_offset_gives_l1_and_luminance_terms(offset: float) -> None:
    base = torch.full((1, 3, 8, 8), 0.5)
    shifted = base + offset
    mu_x, mu_y = 0.5, 0.5 + offset
    ssim = (2 * mu_x * mu_y + C1) / (mu_x**2 + mu_y**2 + C1)  # variances and covariance are 0: contrast term 1
    expected = 0.85 * (1 - ssim) / 2 + 0.15 * abs(offset)
    error = reprojection_error(shifted, base)
    assert error.shape == (1, 1, 8, 8)
    assert torch.allclose(error, torch.full_like(error, expected), atol=1e-6)
    assert torch.allclose(reprojection_error(shifted, base, alpha=0.0), torch.full_like(error, abs(offset)), atol=1e-6)


def test_offset_on_texture_keeps_the_l1_part_exact() -> None:
    image = _texture()
    error = reprojection_error(image + 0.05, image, alpha=0.0)
    assert torch.allclose(error, torch.full_like(error, 0.05), atol=1e-6)
    with pytest.raises(FrontendError, match="same"):
        reprojection_error(image, image[:, :, :10])


def test_minimum_over_sources_and_invalid_pixels() -> None:
    first = torch.tensor([[[[1.0, 5.0], [3.0, 2.0]]]])
    second = torch.tensor([[[[4.0, 0.0], [6.0, 1.0]]]])
    assert minimum_reprojection([first, second]).tolist() == [[[[1.0, 0.0], [3.0, 1.0]]]]
    with pytest.raises(FrontendError, match="at least one source"):
        minimum_reprojection([])


def test_automask_keeps_pixels_where_warping_beats_no_warping() -> None:
    warped = torch.tensor([[[[0.1, 0.3, 0.2]]]])
    identity = torch.tensor([[[[0.2, 0.2, 0.2]]]])
    assert automask(warped, identity).tolist() == [[[[True, False, False]]]]


def test_view_synthesis_loss_masks_static_pixels_and_takes_the_best_source() -> None:
    target = _texture(1)
    noise = _texture(2)
    # Left half static (the unwarped source already equals the target), right half moving.
    source = torch.cat([target[..., :16], noise[..., 16:]], dim=3)
    warped = torch.cat([noise[..., :16], target[..., 16:]], dim=3)  # warping explains the right half only
    valid = torch.ones(1, 1, 24, 32, dtype=torch.bool)
    identity = identity_error(target, [source], [torch.tensor([True])])
    loss, keep = view_synthesis_loss(target, [(warped, valid)], identity=identity)
    assert not keep[..., :14].any() and keep[..., 18:].all()
    best = torch.minimum(reprojection_error(warped, target), reprojection_error(source, target))
    assert float(loss) == pytest.approx(float(best.mean()), rel=1e-5)  # masked pixels add their identity error
    assert float(best[..., :14].max()) < 1e-6 and float(best[..., 18:].max()) < 1e-6  # exact away from the seam
    unmasked, keep_all = view_synthesis_loss(target, [(warped, valid)])
    assert keep_all.all() and float(unmasked) > 0.05
    # A second source that is invalid on the left half: its pixels there do not count.
    half = valid.clone()
    half[..., :16] = False
    loss_two, keep_two = view_synthesis_loss(target, [(warped, valid), (target, half)])
    error_left = reprojection_error(warped, target)[..., :16]
    assert keep_two.all()
    assert float(loss_two) == pytest.approx(float(error_left.sum() / (24 * 32)), rel=1e-5)


def test_uncovered_pixels_do_not_count() -> None:
    target = _texture(3)
    invalid = torch.zeros(1, 1, 24, 32, dtype=torch.bool)
    identity = identity_error(target, [target], [torch.tensor([True])])
    loss, keep = view_synthesis_loss(target, [(target * 0.0, invalid)], identity=identity)
    assert float(loss) == 0.0 and not keep.any()
    absent = identity_error(target, [target, target * 0.5], [torch.tensor([False]), torch.tensor([True])])
    assert torch.allclose(absent, reprojection_error(target * 0.5, target))  # the absent source never wins
    assert float(identity_error(target, [target], [torch.tensor([False])]).min()) == INVALID_ERROR


def test_edge_aware_smoothness_hand_computed() -> None:
    flat = torch.ones(1, 3, 2, 5)
    assert float(edge_aware_smoothness(torch.full((1, 1, 2, 5), 0.4), flat)) == 0.0
    ramp = (1.0 + 0.1 * torch.arange(5.0)).reshape(1, 1, 1, 5).repeat(1, 1, 2, 1)  # mean 1.2
    assert float(edge_aware_smoothness(ramp, flat)) == pytest.approx(0.1 / 1.2, rel=1e-5)
    edge = flat.clone()
    edge[..., 2:] = 0.0  # an image edge between columns 1 and 2 weighs that disparity step by exp(-1)
    expected = (0.1 / 1.2) * (3 + np.exp(-1.0)) / 4
    assert float(edge_aware_smoothness(ramp, edge)) == pytest.approx(expected, rel=1e-5)


def test_network_shapes_and_depth_mapping() -> None:
    with torch.no_grad():
        outputs = DepthNet(base_channels=4)(torch.rand(2, 3, 32, 48))
    assert [tuple(o.shape) for o in outputs] == [(2, 1, 32, 48), (2, 1, 16, 24), (2, 1, 8, 12)]
    assert all(float(o.min()) > 0 and float(o.max()) < 1 for o in outputs)
    ends = torch.tensor([0.0, 1.0])
    disparity = sigmoid_to_disparity(ends, focal_baseline=2.0, min_depth_m=0.02, max_depth_m=0.25)
    assert disparity.tolist() == pytest.approx([2.0 / 0.25, 2.0 / 0.02])
    assert disparity_to_depth(disparity, focal_baseline=2.0).tolist() == pytest.approx([0.25, 0.02])
    assert sigmoid_to_depth(ends, min_depth_m=0.02, max_depth_m=0.25).tolist() == pytest.approx([0.25, 0.02])


def test_true_depth_and_rig_reproduce_the_left_image_of_the_sample_bag() -> None:
    first, second = sample_truth_frames(2)
    frame = first.frame
    target, right = _image(frame.left), _image(frame.right)
    K = torch.tensor(frame.K, dtype=torch.float32)[None]
    known = np.isfinite(first.depth) & first.tissue
    depth = torch.from_numpy(np.nan_to_num(first.depth, nan=0.1))[None, None]

    def errors(scale: float) -> tuple[float, float]:
        warped, valid = warp_right_to_left(
            right, depth * scale, K, torch.tensor([frame.baseline_m]), torch.tensor([frame.disparity_offset_px])
        )
        keep = valid[0, 0].numpy() & known
        l1 = (warped - target).abs().mean(dim=1)[0].numpy()[keep].mean()
        return float(l1), float(reprojection_error(warped, target)[0, 0].numpy()[keep].mean())

    l1, loss = errors(1.0)
    assert l1 < 0.012  # RGB in [0, 1]: interpolation and rendering differences only
    assert errors(1.05)[1] > 1.8 * loss and errors(0.95)[1] > 1.8 * loss
    # Consecutive frames through the ground-truth poses.
    assert frame.T_world_camera is not None and second.frame.T_world_camera is not None
    T_source_target = torch.tensor(
        np.linalg.inv(second.frame.T_world_camera) @ frame.T_world_camera, dtype=torch.float32
    )
    warped, valid = warp_through_depth(_image(second.frame.left), depth, K, T_source_target[None])
    keep = valid[0, 0].numpy() & known
    temporal = float(reprojection_error(warped, target)[0, 0].numpy()[keep].mean())
    unmoved = float(reprojection_error(_image(second.frame.left), target)[0, 0].numpy()[known].mean())
    assert float((warped - target).abs().mean(dim=1)[0].numpy()[keep].mean()) < 0.01
    assert temporal < 0.7 * unmoved


def test_backend_is_registered_and_names_a_missing_weights_file(tmp_path: Path) -> None:
    assert "self_supervised" in prior_backend_names()
    with pytest.raises(FrontendError, match=r"depth_prior\.self_supervised_weights_path is empty"):
        make_prior_backend(DepthPriorConfig(backend="self_supervised"))
    missing = tmp_path / "none.pt"
    with pytest.raises(FrontendError, match=rf"self_supervised_weights_path {missing}: no such file"):
        make_prior_backend(DepthPriorConfig(backend="self_supervised", self_supervised_weights_path=str(missing)))
    foreign = tmp_path / "foreign.pt"
    foreign.write_text("not weights")
    with pytest.raises(FrontendError, match=r"foreign\.pt: not a torch file"):
        load_weights(foreign)
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(FrontendError, match="not a self-supervised depth weights file"):
        load_weights(tmp_path / "other.pt")


def test_backend_round_trip_gives_depth_in_range(tmp_path: Path) -> None:
    calibration = StereoCalibration.rectified(width=64, height=48, fx=60.0, baseline_m=0.005)
    config = SelfSupervisedConfig(downscale=2, base_channels=4)
    trainer = OnlineDepthTrainer(config, min_depth_m=0.03, max_depth_m=0.2)
    trainer.fx_px = 60.0
    path = save_weights(tmp_path / "w.pt", trainer.weights())
    backend = make_prior_backend(
        DepthPriorConfig(backend="self_supervised", self_supervised_weights_path=str(path), device="cpu")
    )
    rng = np.random.default_rng(0)
    left = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    prior = backend.estimate(left, left, calibration)
    assert prior.depth.shape == (48, 64) and prior.valid.all()
    assert float(prior.depth.min()) >= 0.03 and float(prior.depth.max()) <= 0.2
    np.testing.assert_allclose(prior.disparity, 60.0 * 0.005 / prior.depth, rtol=1e-5)
    expected = trainer.predict_depth(left)
    np.testing.assert_allclose(prior.depth, expected, rtol=1e-5)
    # A camera with twice the focal length sees the same image twice as far.
    doubled = StereoCalibration.rectified(width=64, height=48, fx=120.0, baseline_m=0.005)
    wide = make_prior_backend(
        DepthPriorConfig(
            backend="self_supervised", self_supervised_weights_path=str(path), device="cpu", max_depth_m=1.0
        )
    )
    np.testing.assert_allclose(wide.estimate(left, left, doubled).depth, 2 * expected, rtol=1e-5)


def test_config_group_is_checked() -> None:
    assert dataclasses.asdict(SelfSupervisedConfig())["ssim_alpha"] == 0.85
    with pytest.raises(ConfigError, match=r"self_supervised\.downscale must be 1, 2 or 4"):
        config_from_parameters({"self_supervised": {"downscale": 3}})
    with pytest.raises(ConfigError, match=r"self_supervised\.pose_source must be one of"):
        config_from_parameters({"self_supervised": {"pose_source": "imu"}})
