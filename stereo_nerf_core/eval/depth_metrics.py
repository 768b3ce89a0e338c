"""Depth-map error metrics (Eigen et al. 2014 / monodepth protocol) for metric stereo depth.

Protocol, per frame, on (H, W) depth maps in metres:

* A ground-truth pixel is *valid* if it is finite, ``> min_depth_m``, ``<= max_depth_m`` (the depth
  cap) and inside the optional ``valid`` mask (e.g. the tissue region; nonzero means inside).
* A prediction is *present* where it is finite and ``> 0``; zero, negative, NaN and inf mean
  "no prediction".
* Metrics are computed on the *evaluated* pixels, those with a valid ground truth and a present
  prediction. ``coverage = n_evaluated / n_valid_gt`` (0 when there is no valid ground truth), so a
  method cannot improve its errors by predicting less without this showing.
* With ``median_scaling`` (off by default: stereo depth is metric) the predictions are multiplied by
  ``median(gt) / median(pred)`` over the evaluated pixels and the factor is recorded as
  ``median_scale`` (``None`` when scaling is off) so that reports can label the row.
* Predictions (after any scaling) are then clipped to ``[min_depth_m, max_depth_m]``.
* With ``p`` the clipped prediction and ``g`` the ground truth, averaged over evaluated pixels:
  ``abs_rel = mean(|p - g| / g)``, ``sq_rel = mean((p - g)^2 / g)`` (metres, the Eigen/monodepth
  convention), ``rmse = sqrt(mean((p - g)^2))`` (metres), ``rmse_log = sqrt(mean((ln p - ln g)^2))``,
  ``a_k = fraction with max(p / g, g / p) < 1.25^k`` for k = 1, 2, 3, and
  ``median_abs_error_m = median(|p - g|)``.
* With no evaluated pixel the error metrics are NaN (never an exception), ``coverage`` is 0 and
  ``n_evaluated`` is 0.

Over a sequence, metrics are pooled over pixels (every evaluated pixel of every frame weighs the same,
as if all frames were one image): :class:`DepthErrorAccumulator` does this exactly, including the
median; :func:`aggregate_depth_metrics` does it from per-frame :class:`DepthMetrics` (exact for every
mean, fraction and count; the median is approximated, see there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.eval.errors import EvaluationError

Float = NDArray[np.float64]

DEPTH_METRIC_NAMES: tuple[str, ...] = ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3")
"""The Eigen metrics, in the order reports show them."""

_DELTA_THRESHOLDS = (1.25, 1.25**2, 1.25**3)


@dataclass(frozen=True)
class DepthMetrics:
    """Depth errors of one frame or of pooled frames (see the module docstring for the protocol)."""

    abs_rel: float
    """Mean of ``|p - g| / g`` (unitless)."""
    sq_rel: float
    """Mean of ``(p - g)^2 / g`` in metres."""
    rmse: float
    """Root mean squared error in metres."""
    rmse_log: float
    """Root mean squared difference of natural logarithms (unitless)."""
    a1: float
    """Fraction of evaluated pixels with ``max(p / g, g / p) < 1.25``."""
    a2: float
    """Same with ``1.25^2``."""
    a3: float
    """Same with ``1.25^3``."""
    median_abs_error_m: float
    """Median of ``|p - g|`` in metres."""
    coverage: float
    """``n_evaluated / n_valid_gt`` in [0, 1]; 0 when there is no valid ground truth."""
    n_valid_gt: int
    """Number of valid ground-truth pixels."""
    n_evaluated: int
    """Number of pixels with a valid ground truth and a present prediction."""
    min_depth_m: float
    """Lower depth bound of the protocol (exclusive for the ground truth)."""
    max_depth_m: float
    """Depth cap of the protocol (inclusive for the ground truth)."""
    median_scale: float | None = None
    """Median-scaling factor applied to the predictions; ``None`` when scaling was off."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict of every field; NaN and inf become ``None``."""
        return {key: _json_number(value) for key, value in asdict(self).items()}


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_protocol(min_depth_m: float, max_depth_m: float) -> None:
    if not (math.isfinite(min_depth_m) and math.isfinite(max_depth_m) and 0.0 < min_depth_m < max_depth_m):
        raise EvaluationError(
            f"depth bounds must satisfy 0 < min_depth_m < max_depth_m (finite), "
            f"got min_depth_m={min_depth_m}, max_depth_m={max_depth_m}"
        )


def _depth_pair(
    pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None
) -> tuple[Float, Float, NDArray[np.bool_]]:
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if p.ndim != 2 or g.ndim != 2:
        raise EvaluationError(f"depth maps must be (H, W) arrays, got pred {p.shape} and gt {g.shape}")
    if p.shape != g.shape:
        raise EvaluationError(
            f"pred and gt depth maps must have the same shape, got pred {p.shape} and gt {g.shape}"
        )
    if valid is None:
        mask = np.ones(g.shape, dtype=bool)
    else:
        raw = np.asarray(valid)
        if raw.shape != g.shape:
            raise EvaluationError(f"valid mask must have the depth maps' shape {g.shape}, got {raw.shape}")
        mask = raw.astype(bool)
    return p, g, mask


def _masks(
    p: Float, g: Float, mask: NDArray[np.bool_], min_depth_m: float, max_depth_m: float
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(valid ground truth, evaluated) boolean maps (H, W)."""
    with np.errstate(invalid="ignore"):
        gt_valid = mask & np.isfinite(g) & (g > min_depth_m) & (g <= max_depth_m)
        present = np.isfinite(p) & (p > 0.0)
    return gt_valid, gt_valid & present


@dataclass(frozen=True)
class _Frame:
    """Evaluated pixels of one frame: clipped predictions and ground truths (N,)."""

    p: Float
    g: Float
    n_valid_gt: int
    median_scale: float | None


def _evaluate_frame(
    pred: ArrayLike,
    gt: ArrayLike,
    valid: ArrayLike | None,
    min_depth_m: float,
    max_depth_m: float,
    median_scaling: bool,
) -> _Frame:
    _check_protocol(min_depth_m, max_depth_m)
    p_map, g_map, mask = _depth_pair(pred, gt, valid)
    gt_valid, evaluated = _masks(p_map, g_map, mask, min_depth_m, max_depth_m)
    p = p_map[evaluated]
    g = g_map[evaluated]
    scale: float | None = None
    if median_scaling:
        scale = float(np.median(g) / np.median(p)) if p.size else math.nan
        p = p * scale
    return _Frame(np.clip(p, min_depth_m, max_depth_m), g, int(np.count_nonzero(gt_valid)), scale)


@dataclass
class _Sums:
    """Sufficient statistics of the pooled means and fractions."""

    abs_rel: float = 0.0
    sq_rel: float = 0.0
    sq: float = 0.0
    log_sq: float = 0.0
    a1: int = 0
    a2: int = 0
    a3: int = 0
    n_valid_gt: int = 0
    n_evaluated: int = 0

    def add(self, frame: _Frame) -> None:
        diff = frame.p - frame.g
        ratio = np.maximum(frame.p / frame.g, frame.g / frame.p)
        self.abs_rel += float(np.sum(np.abs(diff) / frame.g))
        self.sq_rel += float(np.sum(diff**2 / frame.g))
        self.sq += float(np.sum(diff**2))
        self.log_sq += float(np.sum((np.log(frame.p) - np.log(frame.g)) ** 2))
        self.a1 += int(np.count_nonzero(ratio < _DELTA_THRESHOLDS[0]))
        self.a2 += int(np.count_nonzero(ratio < _DELTA_THRESHOLDS[1]))
        self.a3 += int(np.count_nonzero(ratio < _DELTA_THRESHOLDS[2]))
        self.n_valid_gt += frame.n_valid_gt
        self.n_evaluated += int(frame.p.size)

    def merge(self, other: _Sums) -> None:
        for name in ("abs_rel", "sq_rel", "sq", "log_sq", "a1", "a2", "a3", "n_valid_gt", "n_evaluated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def metrics(
        self, median_abs_error_m: float, min_depth_m: float, max_depth_m: float, median_scale: float | None
    ) -> DepthMetrics:
        n = self.n_evaluated

        def mean(total: float) -> float:
            return total / n if n else math.nan

        return DepthMetrics(
            abs_rel=mean(self.abs_rel),
            sq_rel=mean(self.sq_rel),
            rmse=math.sqrt(mean(self.sq)),
            rmse_log=math.sqrt(mean(self.log_sq)),
            a1=mean(self.a1),
            a2=mean(self.a2),
            a3=mean(self.a3),
            median_abs_error_m=median_abs_error_m if n else math.nan,
            coverage=n / self.n_valid_gt if self.n_valid_gt else 0.0,
            n_valid_gt=self.n_valid_gt,
            n_evaluated=n,
            min_depth_m=min_depth_m,
            max_depth_m=max_depth_m,
            median_scale=median_scale,
        )


def depth_metrics(
    pred: ArrayLike,
    gt: ArrayLike,
    *,
    valid: ArrayLike | None = None,
    min_depth_m: float = 1e-3,
    max_depth_m: float = 0.3,
    median_scaling: bool = False,
) -> DepthMetrics:
    """Eigen depth metrics of a predicted depth map (H, W) against ground truth (H, W), in metres.

    ``valid`` is an optional (H, W) mask restricting the ground truth (nonzero = inside). See the
    module docstring for the protocol. Raises :class:`EvaluationError` on shape mismatch or bad bounds.
    """
    frame = _evaluate_frame(pred, gt, valid, min_depth_m, max_depth_m, median_scaling)
    sums = _Sums()
    sums.add(frame)
    median = float(np.median(np.abs(frame.p - frame.g))) if frame.p.size else math.nan
    return sums.metrics(median, min_depth_m, max_depth_m, frame.median_scale)


def depth_error_map(
    pred: ArrayLike,
    gt: ArrayLike,
    *,
    valid: ArrayLike | None = None,
    min_depth_m: float = 1e-3,
    max_depth_m: float = 0.3,
) -> Float:
    """Absolute error ``|clip(p) - g|`` (H, W) in metres on the evaluated pixels, NaN elsewhere.

    Same protocol as :func:`depth_metrics` without median scaling, so a figure shows exactly the pixels
    and errors the metrics use.
    """
    _check_protocol(min_depth_m, max_depth_m)
    p, g, mask = _depth_pair(pred, gt, valid)
    _, evaluated = _masks(p, g, mask, min_depth_m, max_depth_m)
    error = np.full(g.shape, np.nan)
    error[evaluated] = np.abs(np.clip(p[evaluated], min_depth_m, max_depth_m) - g[evaluated])
    return error


class DepthErrorAccumulator:
    """Pools depth errors over frames exactly: the result equals :func:`depth_metrics` on all frames'
    pixels concatenated into one image (up to floating-point summation order).

    Means and fractions are kept as running sums; the absolute errors of evaluated pixels are kept as
    float32 (4 bytes per evaluated pixel) for the pooled median, which is therefore exact up to float32
    rounding (relative 6e-8, below a nanometre at endoscopic depths). With ``median_scaling`` each
    frame is scaled by its own factor (the monodepth convention) and the pooled ``median_scale`` is the
    pixel-weighted mean of the per-frame factors.
    """

    def __init__(
        self, *, min_depth_m: float = 1e-3, max_depth_m: float = 0.3, median_scaling: bool = False
    ) -> None:
        _check_protocol(min_depth_m, max_depth_m)
        self.min_depth_m = min_depth_m
        self.max_depth_m = max_depth_m
        self.median_scaling = median_scaling
        self._sums = _Sums()
        self._errors: list[NDArray[np.float32]] = []
        self._scale_sum = 0.0
        self._n_frames = 0

    @property
    def n_frames(self) -> int:
        """Number of frames added so far."""
        return self._n_frames

    def add(self, pred: ArrayLike, gt: ArrayLike, valid: ArrayLike | None = None) -> DepthMetrics:
        """Add one frame (H, W) and return its own metrics."""
        frame = _evaluate_frame(pred, gt, valid, self.min_depth_m, self.max_depth_m, self.median_scaling)
        frame_sums = _Sums()
        frame_sums.add(frame)
        self._sums.merge(frame_sums)
        errors = np.abs(frame.p - frame.g)
        self._errors.append(errors.astype(np.float32))
        if frame.median_scale is not None and frame.p.size:
            self._scale_sum += frame.median_scale * frame.p.size
        self._n_frames += 1
        median = float(np.median(errors)) if errors.size else math.nan
        return frame_sums.metrics(median, self.min_depth_m, self.max_depth_m, frame.median_scale)

    def result(self) -> DepthMetrics:
        """Metrics pooled over every pixel of every frame added (NaN metrics when none was evaluated)."""
        n = self._sums.n_evaluated
        median = float(np.median(np.concatenate(self._errors))) if n else math.nan
        scale: float | None = None
        if self.median_scaling:
            scale = self._scale_sum / n if n else math.nan
        return self._sums.metrics(median, self.min_depth_m, self.max_depth_m, scale)


def _weighted_median(values: Float, weights: Float) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, 0.5 * cumulative[-1]))
    return float(values[order][index])


def aggregate_depth_metrics(per_frame: Sequence[DepthMetrics]) -> DepthMetrics:
    """Pixel-weighted pooling of per-frame metrics (each evaluated pixel weighs the same).

    Every mean, fraction, count and ``coverage`` equals what :func:`depth_metrics` gives on the
    frames' pixels pooled (up to rounding): each frame's sums are recovered as ``mean * n_evaluated``
    (``rmse^2 * n_evaluated`` for the root-mean-squares). A median cannot be pooled from medians, so
    ``median_abs_error_m`` is approximated by the pixel-weighted median of the per-frame medians
    (exact for a single frame); use :class:`DepthErrorAccumulator` when the exact pooled median matters.
    ``median_scale`` is the pixel-weighted mean of the per-frame factors.

    Raises :class:`EvaluationError` for an empty sequence or for frames evaluated under different
    protocols (depth bounds, median scaling on or off).
    """
    if not per_frame:
        raise EvaluationError("aggregate_depth_metrics needs at least one frame, got none")
    first = per_frame[0]
    scaled = first.median_scale is not None
    for index, frame in enumerate(per_frame):
        if (frame.min_depth_m, frame.max_depth_m) != (first.min_depth_m, first.max_depth_m):
            raise EvaluationError(
                "frames must share the depth bounds: frame 0 has "
                f"({first.min_depth_m}, {first.max_depth_m}) m, "
                f"frame {index} has ({frame.min_depth_m}, {frame.max_depth_m}) m"
            )
        if (frame.median_scale is not None) != scaled:
            raise EvaluationError(
                f"frames must all use median scaling or none: frame 0 has median_scale={first.median_scale}, "
                f"frame {index} has median_scale={frame.median_scale}"
            )
    sums = _Sums()
    medians: list[float] = []
    weights: list[float] = []
    scale_sum = 0.0
    for frame in per_frame:
        n = frame.n_evaluated
        sums.n_valid_gt += frame.n_valid_gt
        if n == 0:
            continue
        sums.n_evaluated += n
        sums.abs_rel += frame.abs_rel * n
        sums.sq_rel += frame.sq_rel * n
        sums.sq += frame.rmse**2 * n
        sums.log_sq += frame.rmse_log**2 * n
        sums.a1 += round(frame.a1 * n)
        sums.a2 += round(frame.a2 * n)
        sums.a3 += round(frame.a3 * n)
        medians.append(frame.median_abs_error_m)
        weights.append(float(n))
        if frame.median_scale is not None:
            scale_sum += frame.median_scale * n
    median = _weighted_median(np.asarray(medians), np.asarray(weights)) if medians else math.nan
    scale: float | None = None
    if scaled:
        scale = scale_sum / sums.n_evaluated if sums.n_evaluated else math.nan
    return sums.metrics(median, first.min_depth_m, first.max_depth_m, scale)
