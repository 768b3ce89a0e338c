"""Surface metrics on point clouds with known distances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.surface_metrics import surface_distances, surface_metrics


def _plane(z: float, spacing: float = 0.0005, n: int = 20) -> np.ndarray:
    """n x n grid of points on the plane z = const (metres)."""
    x, y = np.meshgrid(np.arange(n) * spacing, np.arange(n) * spacing)
    return np.stack([x.ravel(), y.ravel(), np.full(n * n, z)], axis=1)


def test_two_planes_one_millimetre_apart() -> None:
    gt = _plane(0.100)
    pred = _plane(0.101)
    # Same (x, y) grid 0.5 mm apart, planes 1 mm apart: every nearest neighbour is straight across.
    m = surface_metrics(pred, gt, threshold_m=0.002)
    assert m.accuracy_median_m == pytest.approx(0.001, abs=1e-12)
    assert m.accuracy_mean_m == pytest.approx(0.001, abs=1e-12)
    assert m.completeness_median_m == pytest.approx(0.001, abs=1e-12)
    assert m.completeness_mean_m == pytest.approx(0.001, abs=1e-12)
    assert (m.precision, m.recall, m.fscore) == (1.0, 1.0, 1.0)
    assert (m.n_pred, m.n_gt, m.threshold_m) == (400, 400, 0.002)
    tight = surface_metrics(pred, gt, threshold_m=0.0005)
    assert (tight.precision, tight.recall, tight.fscore) == (0.0, 0.0, 0.0)


def test_partial_reconstruction_hand_computed() -> None:
    # gt at x = 0, 1, 2, 3 mm; pred at x = 0, 1 mm (same line).
    gt = np.array([[0.0, 0, 0], [0.001, 0, 0], [0.002, 0, 0], [0.003, 0, 0]])
    pred = gt[:2]
    m = surface_metrics(pred, gt, threshold_m=0.0005)
    # accuracy: pred -> gt distances (0, 0); completeness: gt -> pred distances (0, 0, 1, 2) mm
    assert m.accuracy_median_m == 0.0 and m.accuracy_mean_m == 0.0
    assert m.completeness_median_m == pytest.approx(0.0005)  # (0 + 1 mm) / 2
    assert m.completeness_mean_m == pytest.approx(0.00075)  # (0 + 0 + 1 + 2) mm / 4
    # precision 2/2 = 1, recall 2/4 = 0.5, F = 2 * 1 * 0.5 / 1.5 = 2/3
    assert (m.precision, m.recall) == (1.0, 0.5)
    assert m.fscore == pytest.approx(2.0 / 3.0)
    assert json.loads(json.dumps(m.as_dict()))["fscore"] == pytest.approx(2.0 / 3.0)


def test_surface_distances() -> None:
    reference = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    points = np.array([[0.0, 0.0, 0.25], [3.0, 4.0, 1.0]])
    np.testing.assert_allclose(surface_distances(points, reference), [0.25, 5.0])
    assert surface_distances(np.zeros((0, 3)), reference).shape == (0,)
    with pytest.raises(EvaluationError, match="reference_points is empty"):
        surface_distances(points, np.zeros((0, 3)))


def test_empty_and_malformed_clouds_are_named() -> None:
    cloud = _plane(0.1, n=3)
    with pytest.raises(EvaluationError, match="pred_points is empty"):
        surface_metrics(np.zeros((0, 3)), cloud)
    with pytest.raises(EvaluationError, match="gt_points is empty"):
        surface_metrics(cloud, np.zeros((0, 3)))
    with pytest.raises(EvaluationError, match=r"pred_points must be an \(N, 3\) array.*\(4, 2\)"):
        surface_metrics(np.zeros((4, 2)), cloud)
    with pytest.raises(EvaluationError, match="non-finite"):
        surface_metrics(np.full((1, 3), np.nan), cloud)
    with pytest.raises(EvaluationError, match="threshold_m"):
        surface_metrics(cloud, cloud, threshold_m=0.0)
