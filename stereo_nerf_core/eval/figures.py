"""Figures for evaluation reports, rendered headless with matplotlib's Agg backend.

Figures are built on :class:`matplotlib.figure.Figure` directly (never ``pyplot``), so no global
figure state is created and nothing needs closing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.eval.depth_metrics import depth_error_map
from stereo_nerf_core.eval.errors import EvaluationError

matplotlib.use("Agg")

_MISSING_COLOUR = "0.75"
"""Light grey for pixels without a value (no prediction, no ground truth, not evaluated)."""


def _depth_mm(depth: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(depth, dtype=np.float64)
    if array.ndim != 2:
        raise EvaluationError(f"{name} must be an (H, W) depth map in metres, got shape {array.shape}")
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(array) & (array > 0.0), array * 1000.0, np.nan)


def depth_comparison_figure(
    path: str | os.PathLike[str],
    left_rgb: ArrayLike,
    pred_depth: ArrayLike,
    gt_depth: ArrayLike,
    *,
    title: str,
    max_depth_m: float,
    min_depth_m: float = 1e-3,
    depth_range_m: tuple[float, float] | None = None,
    max_error_mm: float | None = None,
) -> None:
    """Write a PNG with four panels: left image | predicted depth | ground-truth depth | absolute error.

    ``left_rgb`` is (H, W, 3) (uint8, or float in [0, 1]) or (H, W) grey; the depth maps are (H, W) in
    metres. Both depth panels share one colour scale in millimetres: ``depth_range_m`` if given (pass
    the same range for every frame of a sequence), else the 1st to 99th percentile of the valid
    ground truth. The error panel shows ``|pred - gt|`` in millimetres on exactly the pixels the depth
    metrics evaluate (ground truth in ``(min_depth_m, max_depth_m]``, prediction present and clipped to
    the same bounds), scaled up to ``max_error_mm`` (default: the 95th percentile of the errors).
    Pixels without a value are light grey. The parent directory is created if needed.
    """
    pred_mm = _depth_mm(pred_depth, "pred_depth")
    gt_mm = _depth_mm(gt_depth, "gt_depth")
    image = np.asarray(left_rgb)
    if pred_mm.shape != gt_mm.shape or image.shape[:2] != gt_mm.shape or image.ndim not in (2, 3):
        raise EvaluationError(
            f"left_rgb (H, W[, 3]), pred_depth (H, W) and gt_depth (H, W) must share (H, W), got "
            f"{image.shape}, {pred_mm.shape} and {gt_mm.shape}"
        )
    error_mm = (
        depth_error_map(pred_depth, gt_depth, min_depth_m=min_depth_m, max_depth_m=max_depth_m) * 1000.0
    )
    gt_valid = gt_mm[np.isfinite(gt_mm) & (gt_mm > min_depth_m * 1000.0) & (gt_mm <= max_depth_m * 1000.0)]
    if depth_range_m is not None:
        vmin, vmax = depth_range_m[0] * 1000.0, depth_range_m[1] * 1000.0
        if not (math.isfinite(vmin) and math.isfinite(vmax) and vmax > vmin):
            raise EvaluationError(
                f"depth_range_m must be (low, high) with low < high in metres, got {depth_range_m}"
            )
    elif gt_valid.size:
        vmin, vmax = (float(v) for v in np.percentile(gt_valid, [1.0, 99.0]))
        if vmax - vmin < 1.0:
            vmin, vmax = vmin - 0.5, vmax + 0.5
    else:
        vmin, vmax = 0.0, max_depth_m * 1000.0
    errors = error_mm[np.isfinite(error_mm)]
    if max_error_mm is None:
        max_error_mm = float(np.percentile(errors, 95.0)) if errors.size else 1.0
    max_error_mm = max(max_error_mm, 1e-3)

    height, width = gt_mm.shape
    panel_width = 4.0
    panel_height = max(panel_width * height / width, 1.5)
    figure = Figure(figsize=(4 * panel_width, panel_height + 1.6), dpi=100, layout="constrained")
    figure.suptitle(title)
    (image_ax, pred_ax, gt_ax, error_ax), (blank, pred_cax, gt_cax, error_cax) = figure.subplots(
        2, 4, height_ratios=(1.0, 0.06)
    )
    blank.axis("off")
    image_ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
    image_ax.set_title("left image")
    depth_cmap = matplotlib.colormaps["turbo"].with_extremes(bad=_MISSING_COLOUR)
    error_cmap = matplotlib.colormaps["magma"].with_extremes(bad=_MISSING_COLOUR)
    for ax, cax, depth, name in (
        (pred_ax, pred_cax, pred_mm, "predicted depth"),
        (gt_ax, gt_cax, gt_mm, "ground-truth depth"),
    ):
        shown = ax.imshow(np.ma.masked_invalid(depth), cmap=depth_cmap, vmin=vmin, vmax=vmax)
        ax.set_title(name)
        figure.colorbar(shown, cax=cax, orientation="horizontal", label="depth (mm)", extend="both")
    shown = error_ax.imshow(np.ma.masked_invalid(error_mm), cmap=error_cmap, vmin=0.0, vmax=max_error_mm)
    error_ax.set_title(f"absolute error (depth cap {max_depth_m * 1000.0:g} mm)")
    figure.colorbar(shown, cax=error_cax, orientation="horizontal", label="|pred - gt| (mm)", extend="max")
    for ax in (image_ax, pred_ax, gt_ax, error_ax):
        ax.set_xticks([])
        ax.set_yticks([])
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(destination, format="png")
