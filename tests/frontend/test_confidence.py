"""Confidence cues and the combined verdict: left-right check, texture, multi-view consistency, reasons."""

from __future__ import annotations

import numpy as np
import pytest

from stereo_nerf_core.frontend.confidence import (
    ConfidenceSettings,
    NeighbourPrior,
    assess_prior,
    left_right_check,
    lr_confidence,
    multiview_error,
    texture_confidence,
)
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.masks import Reason, reason_names
from stereo_nerf_core.geometry.transforms import make_se3
from tests.frontend.prior_helpers import plane_pair, texture

K = np.array([[100.0, 0.0, 31.5], [0.0, 100.0, 23.5], [0.0, 0.0, 1.0]])


def test_left_right_check_by_hand() -> None:
    left = np.full((1, 8), 2.0, np.float32)
    right = np.full((1, 8), 2.0, np.float32)
    left[0, 5] = 3.0  # its match x = 2 says 2.0: disagreement 1
    right[0, 4] = 5.0  # claimed by a nearer surface: left x = 6 (match 4) is occluded
    left[0, 7] = -1.0  # no match
    disagreement, consistent, occluded = left_right_check(left, right, max_diff_px=0.5)
    assert disagreement[0, 2] == 0.0 and disagreement[0, 5] == pytest.approx(1.0)
    assert np.isinf(disagreement[0, 0]) and np.isinf(disagreement[0, 1])  # matches fall off the right image
    assert np.isinf(disagreement[0, 7])
    assert consistent.tolist() == [[False, False, True, True, True, False, False, False]]
    assert occluded[0, 6] and occluded[0, 0] and not occluded[0, 5] and not occluded[0, 7]
    confidence = lr_confidence(disagreement, max_diff_px=1.0)
    assert confidence[0, 2] == 1.0 and confidence[0, 5] == pytest.approx(np.exp(-2.0)) and confidence[0, 7] == 0.0
    with pytest.raises(FrontendError, match="differ in shape"):
        left_right_check(left, right[:, :4], max_diff_px=1.0)


def test_texture_confidence_separates_flat_from_textured() -> None:
    flat = np.full((40, 40), 90, np.uint8)
    textured = texture(40, 40).astype(np.uint8)
    assert texture_confidence(flat).max() == 0.0
    assert np.median(texture_confidence(textured)) > 0.9
    ramp = np.tile(np.arange(40, dtype=np.uint8) * 2, (40, 1))  # 2 grey levels per pixel: 1 - exp(-4/9)
    assert texture_confidence(ramp)[20, 20] == pytest.approx(1 - np.exp(-4 / 9), abs=1e-3)


def _plane(depth_m: float, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    return np.full(shape, depth_m, np.float32)


def test_multiview_error_of_consistent_and_inconsistent_neighbours() -> None:
    reference = _plane(0.05)
    # the neighbour sits 5 mm to the right: the plane is still 50 mm away there, and every point
    # appears 100 px * 5 mm / 50 mm = 10 px further left, so the 10 leftmost columns leave its view
    moved = make_se3(np.eye(3), np.array([-0.005, 0.0, 0.0]))
    error, views = multiview_error(reference, K, [NeighbourPrior(_plane(0.05), K, moved)])
    seen = views > 0
    assert not seen[:, :10].any() and seen[:, 10:].all()
    assert np.nanmax(error) < 1e-5
    error, _ = multiview_error(reference, K, [NeighbourPrior(_plane(0.055), K, moved)])
    assert np.nanmedian(error) == pytest.approx(0.1, rel=1e-3)  # |0.05 - 0.055| / 0.05
    # three neighbours, one disagreeing: the median keeps the pixel consistent
    neighbours = [NeighbourPrior(_plane(z), K, moved) for z in (0.05, 0.05, 0.06)]
    error, views = multiview_error(reference, K, neighbours)
    assert views.max() == 3 and np.nanmax(error) < 1e-5
    with pytest.raises(FrontendError, match=r"\(4, 4\)"):
        multiview_error(reference, K, [NeighbourPrior(reference, K, np.eye(3))])


def _prior(depth: np.ndarray, confidence: float = 1.0) -> DepthPrior:
    disparity = np.where(depth > 0, 0.656 / np.maximum(depth, 1e-9), 0).astype(np.float32)
    return DepthPrior(disparity, depth.astype(np.float32), np.where(depth > 0, confidence, 0).astype(np.float32))


def test_assess_prior_combines_cues_and_reports_every_reason() -> None:
    left, _ = plane_pair(8.0, (48, 64), rgb=True)
    depth = _plane(0.05)
    depth[0:4, :] = 0.0  # no match
    depth[4:8, :] = 0.5  # beyond max_depth_m
    left[10:16, 10:16] = 250  # a white highlight
    left[40:, :8] = 0  # black border
    instrument = np.zeros((48, 64), bool)
    instrument[20:30, 40:50] = True
    assessment = assess_prior(_prior(depth, 0.9), left, min_depth_m=0.02, max_depth_m=0.3, instrument=instrument)
    assert assessment.mask(Reason.NO_MATCH)[0:4].all() and assessment.mask(Reason.OUT_OF_RANGE)[4:8].all()
    assert assessment.mask(Reason.SPECULAR)[12, 12] and assessment.mask(Reason.INSTRUMENT)[25, 45]
    assert assessment.mask(Reason.BACKGROUND)[45, 3]
    assert reason_names(int(assessment.reasons[0, 0])) == ["NO_MATCH"]
    kept = assessment.valid
    assert kept[30, 30] and not kept[12, 12] and not kept[25, 45]
    assert np.all(assessment.confidence[~kept] == 0.0) and assessment.confidence.max() <= 0.9 + 1e-6
    assert assessment.confidence[30, 30] > 0.7  # textured: 0.9 x texture
    shares = assessment.shares()
    assert shares["NO_MATCH"] == pytest.approx(4 / 48) and 0.0 < shares["kept"] < 1.0
    flat = np.full_like(left, 120)
    low = assess_prior(_prior(_plane(0.05)), flat, min_depth_m=0.02, max_depth_m=0.3)
    assert low.mask(Reason.LOW_CONFIDENCE).all()  # no texture: nothing to trust
    with pytest.raises(FrontendError, match="instrument mask is"):
        assess_prior(_prior(depth), left, min_depth_m=0.02, max_depth_m=0.3, instrument=instrument[:10])


def test_assess_prior_folds_multiview_consistency_into_confidence() -> None:
    left, _ = plane_pair(8.0, (48, 64), rgb=True)
    moved = make_se3(np.eye(3), np.array([-0.002, 0.0, 0.0]))
    prior = _prior(_plane(0.05))
    settings = ConfidenceSettings(multiview_tolerance=0.02, multiview_reject=0.06)
    agree = assess_prior(
        prior,
        left,
        min_depth_m=0.02,
        max_depth_m=0.3,
        neighbours=[NeighbourPrior(_plane(0.05), K, moved)],
        K=K,
        settings=settings,
    )
    slightly = assess_prior(
        prior,
        left,
        min_depth_m=0.02,
        max_depth_m=0.3,
        neighbours=[NeighbourPrior(_plane(0.051), K, moved)],
        K=K,
        settings=settings,
    )
    far = assess_prior(
        prior,
        left,
        min_depth_m=0.02,
        max_depth_m=0.3,
        neighbours=[NeighbourPrior(_plane(0.06), K, moved)],
        K=K,
        settings=settings,
    )
    centre = (24, 32)
    assert agree.valid[centre] and slightly.valid[centre] and not far.valid[centre]
    assert far.mask(Reason.MULTIVIEW)[centre]
    # 2 % relative error = one tolerance: confidence times exp(-0.5)
    assert slightly.confidence[centre] == pytest.approx(agree.confidence[centre] * np.exp(-0.5), rel=0.02)
    with pytest.raises(FrontendError, match="needs K"):
        assess_prior(
            prior, left, min_depth_m=0.02, max_depth_m=0.3, neighbours=[NeighbourPrior(_plane(0.05), K, moved)]
        )
