"""Point-cloud surface metrics: accuracy, completeness and F-score (DTU / Tanks-and-Temples style).

* *Accuracy*: distance from each predicted point to its nearest ground-truth point (how far the
  reconstruction is from the true surface), reported as median and mean in metres.
* *Completeness*: distance from each ground-truth point to its nearest predicted point (how much of the
  true surface is reconstructed), median and mean in metres.
* *Precision* / *recall*: fraction of predicted / ground-truth points whose distance is strictly below
  ``threshold_m``; *F-score* is their harmonic mean (0 when both are 0).

Points are (N, 3) arrays in metres in a common frame; nearest neighbours come from a k-d tree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from stereo_nerf_core.eval.errors import EvaluationError

Float = NDArray[np.float64]


@dataclass(frozen=True)
class SurfaceMetrics:
    """Surface errors of a reconstructed point cloud against a ground-truth one (metres)."""

    accuracy_median_m: float
    """Median distance predicted -> ground truth."""
    accuracy_mean_m: float
    """Mean distance predicted -> ground truth."""
    completeness_median_m: float
    """Median distance ground truth -> predicted."""
    completeness_mean_m: float
    """Mean distance ground truth -> predicted."""
    precision: float
    """Fraction of predicted points closer than ``threshold_m`` to the ground truth."""
    recall: float
    """Fraction of ground-truth points closer than ``threshold_m`` to the prediction."""
    fscore: float
    """Harmonic mean of precision and recall (0 when both are 0)."""
    threshold_m: float
    """Distance threshold of precision, recall and F-score."""
    n_pred: int
    """Number of predicted points."""
    n_gt: int
    """Number of ground-truth points."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict of every field; NaN and inf become ``None``."""
        return {
            key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in asdict(self).items()
        }


def _points(values: ArrayLike, name: str) -> Float:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise EvaluationError(f"{name} must be an (N, 3) array of points, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise EvaluationError(f"{name} has non-finite coordinates")
    return array


def surface_distances(points: ArrayLike, reference_points: ArrayLike) -> Float:
    """Distance (N,) in metres from each of ``points`` (N, 3) to its nearest point of ``reference_points``
    (M, 3). ``points`` may be empty (the result is then empty); ``reference_points`` may not."""
    query = _points(points, "points")
    reference = _points(reference_points, "reference_points")
    if reference.shape[0] == 0:
        raise EvaluationError(
            "reference_points is empty: nearest-neighbour distances need at least one point"
        )
    if query.shape[0] == 0:
        return np.zeros(0)
    distances, _ = cKDTree(reference).query(query, k=1)
    return np.asarray(distances, dtype=np.float64)


def surface_metrics(
    pred_points: ArrayLike, gt_points: ArrayLike, *, threshold_m: float = 0.001
) -> SurfaceMetrics:
    """Accuracy, completeness and precision/recall/F-score of ``pred_points`` (N, 3) against
    ``gt_points`` (M, 3), both in metres. Raises :class:`EvaluationError` naming an empty cloud."""
    pred = _points(pred_points, "pred_points")
    gt = _points(gt_points, "gt_points")
    for name, cloud in (("pred_points", pred), ("gt_points", gt)):
        if cloud.shape[0] == 0:
            raise EvaluationError(f"{name} is empty: surface metrics need at least one point in each cloud")
    if not (math.isfinite(threshold_m) and threshold_m > 0.0):
        raise EvaluationError(f"threshold_m must be a positive distance in metres, got {threshold_m}")
    to_gt = surface_distances(pred, gt)
    to_pred = surface_distances(gt, pred)
    precision = float(np.mean(to_gt < threshold_m))
    recall = float(np.mean(to_pred < threshold_m))
    fscore = 2.0 * precision * recall / (precision + recall) if precision + recall > 0.0 else 0.0
    return SurfaceMetrics(
        accuracy_median_m=float(np.median(to_gt)),
        accuracy_mean_m=float(np.mean(to_gt)),
        completeness_median_m=float(np.median(to_pred)),
        completeness_mean_m=float(np.mean(to_pred)),
        precision=precision,
        recall=recall,
        fscore=fscore,
        threshold_m=threshold_m,
        n_pred=int(pred.shape[0]),
        n_gt=int(gt.shape[0]),
    )
