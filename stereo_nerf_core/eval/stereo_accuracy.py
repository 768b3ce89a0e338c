"""Front-end accuracy on real stereo data: a prior backend scored against structured-light or lidar truth.

SCARED protocol: rectify the raw pair at full resolution, move the left ground truth (Z) onto the
rectified grid, run the backend at ``scale`` of the rectified size, upsample its depth (nearest) back
and score metric depth (no median scaling) with depths capped at ``max_depth_m``.
KITTI protocol: the backend runs on the rectified pair as given; end-point error (px) and D1 (error
> 3 px and > 5 % of the truth) on the pixels that have both a prediction and lidar truth, with coverage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.eval.depth_metrics import DepthMetrics, depth_metrics
from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.frontend.depth_prior import DepthPrior, PriorBackend
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.io.datasets import RawStereoSample, RectifiedStereoSample


@dataclass(frozen=True)
class ScaredScore:
    """A backend's depth metrics on one SCARED pair, with its run time."""

    metrics: DepthMetrics
    seconds: float
    prior: DepthPrior
    """The backend's output at the working scale."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {**self.metrics.as_dict(), "seconds": round(self.seconds, 4)}


@dataclass(frozen=True)
class KittiScore:
    """End-point error (px), D1 (share of bad pixels) and coverage on sparse truth."""

    epe_px: float
    d1: float
    coverage: float
    n_ground_truth: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "epe_px": self.epe_px,
            "d1": self.d1,
            "coverage": self.coverage,
            "n_ground_truth": self.n_ground_truth,
            "seconds": round(self.seconds, 4),
        }


def rectified_inputs(
    sample: RawStereoSample, *, scale: float
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float32]]:
    """Rectified left and right at ``scale`` and the rectified ground truth at full size."""
    if sample.ground_truth_depth is None:
        raise EvaluationError("the sample has no ground-truth depth to score against")
    left, right = sample.calibration.rectify(sample.left, sample.right)
    truth = rectify_left_depth(sample.calibration, sample.ground_truth_depth)
    if scale != 1.0:
        width, height = sample.calibration.size
        size = (round(width * scale), round(height * scale))
        left = cv2.resize(left, size, interpolation=cv2.INTER_AREA)
        right = cv2.resize(right, size, interpolation=cv2.INTER_AREA)
    return left, right, truth


def score_scared(
    sample: RawStereoSample,
    backend: PriorBackend,
    *,
    scale: float = 0.5,
    max_depth_m: float = 0.3,
    inputs: tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.float32]] | None = None,
) -> ScaredScore:
    """Score ``backend`` on a SCARED pair (pass ``inputs`` from :func:`rectified_inputs` to reuse them)."""
    left, right, truth = inputs if inputs is not None else rectified_inputs(sample, scale=scale)
    calibration = sample.calibration.rectified_scaled(left.shape[1], left.shape[0])
    start = time.perf_counter()
    prior = backend.estimate(left, right, calibration)
    seconds = time.perf_counter() - start
    depth = cv2.resize(prior.depth, sample.calibration.size, interpolation=cv2.INTER_NEAREST)
    metrics = depth_metrics(depth, truth, max_depth_m=max_depth_m)
    return ScaredScore(metrics, seconds, prior)


def score_kitti(sample: RectifiedStereoSample, backend: PriorBackend) -> KittiScore:
    """Score ``backend``'s disparity on a KITTI pair with sparse truth."""
    start = time.perf_counter()
    prior = backend.estimate(sample.left, sample.right, sample.calibration)
    seconds = time.perf_counter() - start
    truth = sample.ground_truth_disparity
    if prior.disparity.shape != truth.shape:
        raise EvaluationError(f"disparity {prior.disparity.shape} and truth {truth.shape} differ in shape")
    has_truth = truth > 0
    both = has_truth & (prior.disparity > 0)
    error = np.abs(prior.disparity[both] - truth[both])
    bad = (error > 3.0) & (error > 0.05 * truth[both])
    n_truth = int(has_truth.sum())
    return KittiScore(
        epe_px=float(error.mean()) if error.size else float("nan"),
        d1=float(bad.mean()) if error.size else float("nan"),
        coverage=float(both.sum() / n_truth) if n_truth else 0.0,
        n_ground_truth=n_truth,
        seconds=seconds,
    )
