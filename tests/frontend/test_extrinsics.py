"""Online rotation refinement: the right camera's roll from sparse matches, applied and kept per stream."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.frontend.depth_prior import make_prior_backend
from stereo_nerf_core.frontend.extrinsics import (
    ExtrinsicsRefiner,
    correction_homography,
    estimate_roll,
    right_intrinsics,
    rotation_matrix,
    transform_matches,
    warp_right,
)
from stereo_nerf_core.frontend.sgbm import SgbmBackend, sgbm_depth_prior
from tests.frontend.prior_helpers import plane_pair, rig

SHAPE = (256, 320)
INNER = np.s_[16:-16, 48:-16]


def rotated_matches(
    pitch_deg: float, roll_deg: float, *, yaw_deg: float = 0.0, ty: float = 0.0, noise_px: float = 0.05, seed: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Matches of random points 40-90 mm away seen by a 640x512 rig (f 536 px, baseline 3.3 mm, a vertical
    baseline component ``ty`` of it) whose right camera is rotated: left points, disparities, dy, K."""
    rng = np.random.default_rng(seed)
    K = np.array([[536.0, 0.0, 319.5], [0.0, 536.0, 255.5], [0.0, 0.0, 1.0]])
    count = 400
    pixels = np.stack([rng.uniform(0, 639, count), rng.uniform(0, 511, count)], axis=1)
    depth = rng.uniform(0.04, 0.09, count)
    points = np.c_[(pixels - K[:2, 2]) / 536.0, np.ones(count)] * depth[:, None]
    baseline = np.array([0.0033, 0.0033 * ty, 0.0])
    rotation = cv2.Rodrigues(np.radians([pitch_deg, yaw_deg, roll_deg]))[0]
    ideal = (points - baseline) @ K.T
    actual = ideal @ (K @ rotation @ np.linalg.inv(K)).T  # the right camera is rotated by R: K R K^-1
    right = actual[:, :2] / actual[:, 2:] + rng.normal(0, noise_px, (count, 2))
    left = pixels.astype(np.float32)
    return left, (left[:, 0] - right[:, 0]).astype(np.float32), (left[:, 1] - right[:, 1]).astype(np.float32), K


@pytest.mark.parametrize(("pitch", "roll"), [(0.0, 0.4), (0.3, -0.25), (-0.5, 0.0)])
def test_roll_is_measured_despite_pitch_yaw_and_baseline_errors(pitch: float, roll: float) -> None:
    # a pitch, a yaw and a vertical baseline component are there too: fitted as nuisance, they do not leak
    points, disparity, dy, K = rotated_matches(pitch, roll, yaw_deg=0.3, ty=0.05)
    estimate = estimate_roll(points, disparity, dy, K)
    assert estimate is not None and estimate.matches > 350
    assert np.degrees(estimate.roll_rad) == pytest.approx(roll, abs=0.02)
    assert np.degrees(estimate.deviation_rad) < 0.01
    # the matches move with the corrected image: after the correction no roll is left
    corrected_disparity, corrected_dy = transform_matches(
        points, disparity, dy, correction_homography(estimate.rotation, K)
    )
    residual = estimate_roll(points, corrected_disparity, corrected_dy, K)
    assert residual is not None and abs(np.degrees(residual.roll_rad)) < 0.01


def test_small_insignificant_or_huge_rolls_are_not_applied() -> None:
    calibration = rig(640, 512)
    K = right_intrinsics(calibration)
    refiner = ExtrinsicsRefiner(min_shift_px=0.5)

    def observe(roll: float, noise_px: float = 0.05) -> np.ndarray | None:
        points, disparity, dy, _ = rotated_matches(0.0, roll, noise_px=noise_px)
        return refiner.observe(calibration, estimate_roll(points, disparity, dy, K), K, 512, 1.0)

    assert observe(0.0) is None
    assert refiner.observe(calibration, None, K, 512, 1.0) is None  # too few matches
    assert estimate_roll(*rotated_matches(0.0, 0.3)[:3], K) is not None
    points, disparity, dy, _ = rotated_matches(0.0, 0.3)
    assert estimate_roll(points[:10], disparity[:10], dy[:10], K) is None
    assert observe(0.04) is None  # shifts the top row by 0.2 px: below 0.5 px, left alone
    assert observe(0.0, noise_px=3.0) is None  # whatever 3 px of noise make of it is not significant
    assert observe(5.0) is None  # not a drift: another calibration
    # a significant roll is applied and composed with what was there
    applied = observe(0.3)
    assert applied is not None and refiner.updates == 1
    assert refiner.roll_deg == pytest.approx(0.3, abs=0.02)
    np.testing.assert_allclose(refiner.rotation(calibration), applied)
    # another calibration starts afresh
    assert np.array_equal(refiner.rotation(rig(320, 256)), np.eye(3)) and refiner.updates == 0


def rolled_pair(roll_deg: float, pitch_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A textured plane 12.4 px away whose right camera is rolled (and pitched)."""
    left, right = plane_pair(12.4, SHAPE, rgb=True)
    rotation = rotation_matrix(np.radians(pitch_deg), np.radians(roll_deg))
    return left, warp_right(right, rotation.T, right_intrinsics(rig(SHAPE[1], SHAPE[0])))


def test_a_rolled_right_camera_is_corrected_and_its_disparity_tilt_removed() -> None:
    left, right = rolled_pair(1.0)
    calibration = rig(SHAPE[1], SHAPE[0])
    config = DepthPriorConfig(fill_holes=False)
    plain = sgbm_depth_prior(left, right, calibration, dataclasses.replace(config, refine_extrinsics=False))
    refiner = ExtrinsicsRefiner(min_shift_px=config.extrinsics_min_shift_px)
    refined = sgbm_depth_prior(left, right, calibration, config, refiner)
    assert refiner.roll_deg == pytest.approx(1.0, abs=0.05)
    rows = np.arange(SHAPE[0])[:, None].repeat(SHAPE[1], axis=1)
    for prior, tilt_limit in ((plain, None), (refined, 0.1)):
        valid = prior.valid[INNER]
        top = np.median(prior.disparity[INNER][valid & (rows[INNER] < 80)])
        bottom = np.median(prior.disparity[INNER][valid & (rows[INNER] > 176)])
        if tilt_limit is None:  # rows aligned by vertical.py, but the roll's horizontal part is still there
            assert bottom - top > 1.0
        else:
            assert abs(bottom - top) < tilt_limit
            assert np.median(prior.disparity[INNER][valid]) == pytest.approx(12.4, abs=0.05)
            assert valid.mean() > 0.97


def test_the_backend_keeps_the_correction_for_the_stream() -> None:
    left, right = rolled_pair(1.0)
    calibration = rig(SHAPE[1], SHAPE[0])
    backend = make_prior_backend(DepthPriorConfig())
    assert isinstance(backend, SgbmBackend) and backend.refiner is not None
    first = backend.estimate(left, right, calibration)
    second = backend.estimate(left, right, calibration)  # corrected before matching: nothing left to measure
    assert backend.refiner.updates == 1
    last = backend.refiner.last_estimate
    assert last is not None and abs(np.degrees(last.roll_rad)) < 0.05
    np.testing.assert_allclose(second.disparity[INNER], first.disparity[INNER], atol=0.05)
    # a calibrated pair is left exactly as it was
    aligned = plane_pair(12.4, SHAPE, rgb=True)
    config = DepthPriorConfig()
    on = sgbm_depth_prior(*aligned, calibration, config)
    off = sgbm_depth_prior(*aligned, calibration, dataclasses.replace(config, refine_extrinsics=False))
    np.testing.assert_array_equal(on.disparity, off.disparity)
    assert make_prior_backend(dataclasses.replace(config, refine_extrinsics=False)).refiner is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"extrinsics_min_shift_px": -1.0}, r"extrinsics_min_shift_px = -1\.0 is out of range"),
        ({"fill_max_spread_px": -0.5}, r"fill_max_spread_px = -0\.5 is out of range"),
    ],
)
def test_new_parameters_are_range_checked(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DepthPriorConfig(**change)  # type: ignore[arg-type]
