"""Depth metrics against hand-computed values, and pooling over frames."""

from __future__ import annotations

import json
import math
from dataclasses import fields, replace

import numpy as np
import pytest

from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.eval.depth_metrics import (
    DEPTH_METRIC_NAMES,
    DepthErrorAccumulator,
    DepthMetrics,
    aggregate_depth_metrics,
    depth_error_map,
    depth_metrics,
)
from stereo_nerf_core.eval.errors import EvaluationError

# 2x2 example, metres. Pixel by pixel (g = gt, p = pred, d = p - g, r = max(p/g, g/p)):
#   A: g 0.10, p 0.11 -> d 0.01, |d|/g 0.1, d^2/g 0.0001/0.1 = 0.001, d^2 0.0001, r 1.1
#   B: g 0.20, p 0.20 -> d 0,    |d|/g 0,   d^2/g 0,                  d^2 0,      r 1.0
#   C: g 0.10, p 0.15 -> d 0.05, |d|/g 0.5, d^2/g 0.0025/0.1 = 0.025, d^2 0.0025, r 1.5
#   D: g 0.10, p 0.19 -> d 0.09, |d|/g 0.9, d^2/g 0.0081/0.1 = 0.081, d^2 0.0081, r 1.9
# abs_rel  = (0.1 + 0 + 0.5 + 0.9) / 4 = 1.5 / 4 = 0.375
# sq_rel   = (0.001 + 0 + 0.025 + 0.081) / 4 = 0.107 / 4 = 0.02675 (m)
# rmse     = sqrt((0.0001 + 0 + 0.0025 + 0.0081) / 4) = sqrt(0.002675) = 0.0517204... (m)
# rmse_log = sqrt((ln(1.1)^2 + 0 + ln(1.5)^2 + ln(1.9)^2) / 4)
#          = sqrt((0.0090840 + 0.1644019 + 0.4119763) / 4) = sqrt(0.1463656) = 0.3825776...
# a1: r < 1.25     -> A, B       -> 2/4 = 0.5
# a2: r < 1.5625   -> A, B, C    -> 3/4 = 0.75
# a3: r < 1.953125 -> A, B, C, D -> 4/4 = 1.0
# median |d| = median(0, 0.01, 0.05, 0.09) = (0.01 + 0.05) / 2 = 0.03 (m)
GT_2X2 = np.array([[0.10, 0.20], [0.10, 0.10]])
PRED_2X2 = np.array([[0.11, 0.20], [0.15, 0.19]])


def test_hand_computed_2x2_example() -> None:
    m = depth_metrics(PRED_2X2, GT_2X2)
    assert m.abs_rel == pytest.approx(0.375)
    assert m.sq_rel == pytest.approx(0.02675)
    assert m.rmse == pytest.approx(math.sqrt(0.002675))
    assert m.rmse == pytest.approx(0.0517204, abs=1e-7)
    expected_log = math.sqrt((math.log(1.1) ** 2 + math.log(1.5) ** 2 + math.log(1.9) ** 2) / 4)
    assert m.rmse_log == pytest.approx(expected_log)
    assert m.rmse_log == pytest.approx(0.3825776, abs=1e-7)
    assert (m.a1, m.a2, m.a3) == (0.5, 0.75, 1.0)
    assert m.median_abs_error_m == pytest.approx(0.03)
    assert (m.coverage, m.n_valid_gt, m.n_evaluated) == (1.0, 4, 4)
    assert m.median_scale is None
    assert (m.min_depth_m, m.max_depth_m) == (1e-3, 0.3)


def test_metric_names_are_fields() -> None:
    names = {f.name for f in fields(DepthMetrics)}
    assert DEPTH_METRIC_NAMES == ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3")
    assert set(DEPTH_METRIC_NAMES) <= names


def test_depth_cap_and_min_depth() -> None:
    # gt 0.0005 < min (excluded), 0.3 == cap (kept), 0.35 > cap (excluded), 0.25 kept.
    gt = np.array([[0.0005, 0.30], [0.35, 0.25]])
    # pred 0.31 is clipped to 0.3 (error 0); pred 0.5 is clipped to 0.3 (error 0.05 against 0.25).
    pred = np.array([[0.10, 0.31], [0.20, 0.50]])
    m = depth_metrics(pred, gt)
    assert (m.n_valid_gt, m.n_evaluated, m.coverage) == (2, 2, 1.0)
    # abs_rel = (0 / 0.3 + 0.05 / 0.25) / 2 = 0.1; rmse = sqrt((0 + 0.0025) / 2) = sqrt(0.00125)
    assert m.abs_rel == pytest.approx(0.1)
    assert m.sq_rel == pytest.approx(0.0025 / 0.25 / 2)
    assert m.rmse == pytest.approx(math.sqrt(0.00125))
    assert m.median_abs_error_m == pytest.approx(0.025)


def test_min_depth_is_exclusive_and_small_predictions_are_clipped_up() -> None:
    assert depth_metrics([[0.5]], [[1e-3]]).n_valid_gt == 0
    # pred 0.0005 > 0 is present and clipped to 0.001: |0.001 - 0.1| / 0.1 = 0.99
    m = depth_metrics([[0.0005]], [[0.1]])
    assert m.abs_rel == pytest.approx(0.99)
    assert m.n_evaluated == 1


def test_custom_bounds() -> None:
    m = depth_metrics([[0.3, 0.45]], [[0.3, 0.4]], max_depth_m=0.5)
    assert m.n_evaluated == 2
    assert m.abs_rel == pytest.approx((0.0 + 0.05 / 0.4) / 2)
    assert m.max_depth_m == 0.5


def test_coverage_with_missing_predictions() -> None:
    gt = np.full((2, 3), 0.1)
    # NaN, 0, negative and inf are "no prediction"; two predictions are present (0.1 and 0.12).
    pred = np.array([[0.1, np.nan, 0.0], [-0.1, np.inf, 0.12]])
    m = depth_metrics(pred, gt)
    assert (m.n_valid_gt, m.n_evaluated) == (6, 2)
    assert m.coverage == pytest.approx(2 / 6)
    assert m.abs_rel == pytest.approx((0.0 + 0.2) / 2)


def test_nan_and_inf_ground_truth_are_ignored() -> None:
    gt = np.array([[np.nan, 0.1], [0.1, np.inf]])
    pred = np.full((2, 2), 0.1)
    m = depth_metrics(pred, gt)
    assert (m.n_valid_gt, m.n_evaluated, m.coverage) == (2, 2, 1.0)
    assert m.abs_rel == 0.0
    assert m.a1 == 1.0


def test_valid_mask_restricts_ground_truth() -> None:
    gt = np.full((2, 2), 0.1)
    pred = np.array([[0.1, 0.1], [0.1, 0.2]])
    valid = np.array([[True, True], [True, False]])
    m = depth_metrics(pred, gt, valid=valid)
    assert (m.n_valid_gt, m.n_evaluated) == (3, 3)
    assert m.abs_rel == 0.0
    as_uint8 = depth_metrics(pred, gt, valid=valid.astype(np.uint8) * 255)
    assert as_uint8 == m
    with pytest.raises(EvaluationError, match=r"\(2, 2\).*\(3, 3\)"):
        depth_metrics(pred, gt, valid=np.ones((3, 3), dtype=bool))


def test_median_scaling() -> None:
    gt = np.array([[0.05, 0.1], [0.1, 0.12]])
    pred = 2.0 * gt  # all below the 0.3 m cap, so unscaled abs_rel = mean(|2g - g| / g) = 1
    unscaled = depth_metrics(pred, gt)
    assert unscaled.abs_rel == pytest.approx(1.0)
    assert unscaled.median_scale is None
    scaled = depth_metrics(pred, gt, median_scaling=True)
    # scale = median(g) / median(p) = 0.1 / 0.2 = 0.5
    assert scaled.median_scale == pytest.approx(0.5)
    assert scaled.abs_rel == pytest.approx(0.0, abs=1e-12)
    assert scaled.a1 == 1.0
    assert scaled.as_dict()["median_scale"] == pytest.approx(0.5)


def test_median_scaling_happens_before_clipping() -> None:
    # median(g) = 0.275, median(p) = 0.65 -> scale 0.275 / 0.65 = 0.4231; the scaled predictions
    # 0.2115 and 0.3385 are then clipped (0.3385 -> 0.3). Clipping first would give another scale.
    m = depth_metrics([[0.5, 0.8]], [[0.25, 0.3]], median_scaling=True)
    scale = 0.275 / 0.65
    assert m.median_scale == pytest.approx(scale)
    p = np.clip(np.array([0.5, 0.8]) * scale, 1e-3, 0.3)
    assert m.abs_rel == pytest.approx(np.mean(np.abs(p - [0.25, 0.3]) / [0.25, 0.3]))


def test_no_evaluated_pixel_gives_nan_not_an_exception() -> None:
    m = depth_metrics(np.full((2, 2), np.nan), np.full((2, 2), 0.1))
    assert (m.coverage, m.n_valid_gt, m.n_evaluated) == (0.0, 4, 0)
    for name in (*DEPTH_METRIC_NAMES, "median_abs_error_m"):
        assert math.isnan(getattr(m, name))
    no_gt = depth_metrics(np.full((2, 2), 0.1), np.zeros((2, 2)), median_scaling=True)
    assert (no_gt.coverage, no_gt.n_valid_gt, no_gt.n_evaluated) == (0.0, 0, 0)
    assert no_gt.median_scale is not None and math.isnan(no_gt.median_scale)
    as_dict = m.as_dict()
    assert as_dict["abs_rel"] is None and as_dict["coverage"] == 0.0
    json.dumps(as_dict, allow_nan=False)


def test_as_dict_is_json_friendly() -> None:
    d = depth_metrics(PRED_2X2, GT_2X2).as_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert d["abs_rel"] == pytest.approx(0.375)
    assert d["n_evaluated"] == 4


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(EvaluationError, match=r"pred \(2, 2\) and gt \(2, 3\)") as info:
        depth_metrics(np.ones((2, 2)), np.ones((2, 3)))
    assert isinstance(info.value, StereoNerfError) and isinstance(info.value, ValueError)
    with pytest.raises(EvaluationError, match=r"\(H, W\)"):
        depth_metrics(np.ones((2, 2, 1)), np.ones((2, 2, 1)))


def test_bad_bounds_are_rejected() -> None:
    with pytest.raises(EvaluationError, match="min_depth_m"):
        depth_metrics(GT_2X2, GT_2X2, min_depth_m=0.5, max_depth_m=0.3)
    with pytest.raises(EvaluationError, match="min_depth_m"):
        DepthErrorAccumulator(min_depth_m=0.0)


def test_depth_error_map() -> None:
    gt = np.array([[0.1, np.nan], [0.35, 0.2]])
    pred = np.array([[0.12, 0.1], [0.1, 0.5]])
    error = depth_error_map(pred, gt)
    assert error[0, 0] == pytest.approx(0.02)
    assert math.isnan(error[0, 1]) and math.isnan(error[1, 0])
    assert error[1, 1] == pytest.approx(0.1)  # pred clipped to the 0.3 m cap


def _random_frames(seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    frames = []
    for width in (5, 7, 4):
        gt = rng.uniform(0.02, 0.35, size=(6, width))
        gt[rng.random(gt.shape) < 0.1] = np.nan
        pred = gt * rng.uniform(0.7, 1.4, size=gt.shape)
        pred[rng.random(gt.shape) < 0.15] = 0.0
        valid = rng.random(gt.shape) < 0.9
        frames.append((pred, gt, valid))
    return frames


def _assert_metrics_close(a: DepthMetrics, b: DepthMetrics, rel: float = 1e-9) -> None:
    for f in fields(DepthMetrics):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:
            assert x is None and y is None, f.name
        else:
            assert x == pytest.approx(y, rel=rel, abs=1e-15), f.name


def test_accumulator_equals_metrics_on_concatenated_frames() -> None:
    frames = _random_frames(0)
    accumulator = DepthErrorAccumulator()
    per_frame = [accumulator.add(pred, gt, valid) for pred, gt, valid in frames]
    pooled = depth_metrics(
        np.concatenate([f[0] for f in frames], axis=1),
        np.concatenate([f[1] for f in frames], axis=1),
        valid=np.concatenate([f[2] for f in frames], axis=1),
    )
    result = accumulator.result()
    assert accumulator.n_frames == 3
    assert result.n_evaluated == pooled.n_evaluated == sum(m.n_evaluated for m in per_frame)
    # The pooled median comes from float32 copies of the errors: exact to float32 rounding.
    assert result.median_abs_error_m == pytest.approx(pooled.median_abs_error_m, rel=1e-6)
    _assert_metrics_close(replace(result, median_abs_error_m=pooled.median_abs_error_m), pooled)
    for (pred, gt, valid), m in zip(frames, per_frame, strict=True):
        assert m == depth_metrics(pred, gt, valid=valid)


def test_aggregate_equals_pooled_except_the_median() -> None:
    frames = _random_frames(1)
    per_frame = [depth_metrics(pred, gt, valid=valid) for pred, gt, valid in frames]
    pooled = depth_metrics(
        np.concatenate([f[0] for f in frames], axis=1),
        np.concatenate([f[1] for f in frames], axis=1),
        valid=np.concatenate([f[2] for f in frames], axis=1),
    )
    aggregated = aggregate_depth_metrics(per_frame)
    for name in (*DEPTH_METRIC_NAMES, "coverage", "n_valid_gt", "n_evaluated"):
        assert getattr(aggregated, name) == pytest.approx(getattr(pooled, name), rel=1e-9), name
    medians = [m.median_abs_error_m for m in per_frame]
    assert min(medians) <= aggregated.median_abs_error_m <= max(medians)
    assert aggregate_depth_metrics(per_frame[:1]) == per_frame[0]


def test_aggregate_skips_empty_frames_and_weights_by_pixels() -> None:
    # Frame 1: one pixel, abs_rel 1.0; frame 2: three pixels, abs_rel 0; frame 3: nothing evaluated.
    one = depth_metrics([[0.2]], [[0.1]])
    three = depth_metrics([[0.1, 0.1, 0.1]], [[0.1, 0.1, 0.1]])
    empty = depth_metrics([[np.nan]], [[0.1]])
    m = aggregate_depth_metrics([one, three, empty])
    assert m.abs_rel == pytest.approx(0.25)  # (1 * 1.0 + 3 * 0) / 4
    assert m.a1 == pytest.approx(0.75)
    assert (m.n_valid_gt, m.n_evaluated) == (5, 4)
    assert m.coverage == pytest.approx(0.8)
    assert m.median_abs_error_m == 0.0  # weighted median of (0.1 m weight 1, 0 m weight 3)


def test_aggregate_rejects_mixed_protocols() -> None:
    with pytest.raises(EvaluationError, match="at least one frame"):
        aggregate_depth_metrics([])
    a = depth_metrics(PRED_2X2, GT_2X2)
    with pytest.raises(EvaluationError, match="depth bounds"):
        aggregate_depth_metrics([a, depth_metrics(PRED_2X2, GT_2X2, max_depth_m=0.5)])
    with pytest.raises(EvaluationError, match="median scaling"):
        aggregate_depth_metrics([a, depth_metrics(PRED_2X2, GT_2X2, median_scaling=True)])


def test_accumulator_median_scaling_is_per_frame() -> None:
    accumulator = DepthErrorAccumulator(median_scaling=True)
    accumulator.add(2.0 * GT_2X2, GT_2X2)  # scale 0.5, 4 pixels
    accumulator.add(np.full((1, 4), 0.1), np.full((1, 4), 0.2))  # scale 2.0, 4 pixels
    m = accumulator.result()
    assert m.abs_rel == pytest.approx(0.0, abs=1e-12)
    assert m.median_scale == pytest.approx((0.5 * 4 + 2.0 * 4) / 8)


def test_empty_accumulator() -> None:
    m = DepthErrorAccumulator().result()
    assert (m.n_valid_gt, m.n_evaluated, m.coverage) == (0, 0, 0.0)
    assert math.isnan(m.abs_rel) and math.isnan(m.median_abs_error_m)
