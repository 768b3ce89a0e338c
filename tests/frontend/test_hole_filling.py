"""Hole filling: fills continue the surface around a hole, and stay empty where the matches around it disagree."""

from __future__ import annotations

import numpy as np

from stereo_nerf_core.frontend.hole_filling import fill_disparity, fill_with_confidence
from tests.frontend.prior_helpers import texture


def two_surfaces() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matches at 10 px (left third) and 20 px (right third) of a 96 x 192 image with one texture and no edge
    between them, and a hole (the middle third) where the depth changes."""
    guide = np.clip(texture(96, 192, seed=3, blur=6.0) * 0.2 + 100, 0, 255).astype(np.uint8)  # faint texture
    disparity = np.zeros((96, 192), np.float32)
    disparity[:, :64], disparity[:, 128:] = 10.0, 20.0
    return disparity, disparity > 0, guide


def test_spread_measures_the_disagreement_of_the_matches_a_fill_averages() -> None:
    disparity, matched, guide = two_surfaces()
    result = fill_disparity(disparity, matched, guide)
    assert result.filled[:, 64:128].all() and not result.filled[matched].any()
    assert np.all(result.spread_px[matched] == 0)
    middle, edge = result.spread_px[:, 92:100], result.spread_px[:, 64:66]
    assert np.median(middle) > 4.0  # averages both surfaces: about half their 10 px step
    assert np.median(edge) < np.median(middle)
    # one surface around a hole: no spread at all
    single = np.where(matched, 10.0, 0).astype(np.float32)
    assert np.abs(fill_disparity(single, matched, guide).spread_px).max() < 1e-3


def test_fills_whose_matches_disagree_stay_empty() -> None:
    disparity, matched, guide = two_surfaces()
    confidence = matched.astype(np.float32)
    values, filled, _ = fill_with_confidence(disparity, matched, confidence, guide, filled_confidence=0.3)
    assert filled[:, 64:128].mean() > 0.99  # no limit: everything is filled
    values, filled, filled_confidence = fill_with_confidence(
        disparity, matched, confidence, guide, filled_confidence=0.3, max_spread_px=3.0
    )
    assert not filled[:, 92:100].any() and np.all(values[:, 92:100] == 0)
    assert np.all(filled_confidence[:, 92:100] == 0)
    assert filled[:, 64:128].mean() < 0.8
    # the spread is in input pixels: at half size (pixel_scale 2) it doubles, so less is kept
    _, half, _ = fill_with_confidence(
        disparity, matched, confidence, guide, filled_confidence=0.3, max_spread_px=3.0, pixel_scale=2.0
    )
    assert half.sum() < filled.sum()
    np.testing.assert_array_equal(values[matched], disparity[matched])
