"""Markdown evaluation report: depth tables per region, surface and timing tables, figures, protocol.

The report reads plain dicts (what ``DepthMetrics.as_dict()`` and ``SurfaceMetrics.as_dict()`` give,
e.g. after a JSON round trip), so it can be re-rendered from saved results. See :func:`write_report`
for the expected shape.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stereo_nerf_core.eval.errors import EvaluationError

NOT_AVAILABLE = "n/a"

_REGION_LABELS: dict[str, str] = {"all": "all pixels", "tissue": "tissue region"}
"""Known depth regions, in report order; other region keys follow under their own name."""

Formatter = Callable[[Any], str]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _fixed(digits: int, scale: float = 1.0) -> Formatter:
    def render(value: Any) -> str:
        number = _number(value)
        return NOT_AVAILABLE if number is None else f"{number * scale:.{digits}f}"

    return render


def _scientific(value: Any) -> str:
    number = _number(value)
    return NOT_AVAILABLE if number is None else f"{number:.2e}"


def _integer(value: Any) -> str:
    number = _number(value)
    return NOT_AVAILABLE if number is None else f"{round(number):d}"


_DEPTH_COLUMNS: tuple[tuple[str, str, Formatter], ...] = (
    ("abs_rel", "abs_rel", _fixed(4)),
    ("sq_rel", "sq_rel (m)", _scientific),
    ("rmse", "rmse (mm)", _fixed(2, 1000.0)),
    ("rmse_log", "rmse_log", _fixed(4)),
    ("a1", "a1", _fixed(3)),
    ("a2", "a2", _fixed(3)),
    ("a3", "a3", _fixed(3)),
    ("coverage", "coverage (%)", _fixed(1, 100.0)),
    ("median_abs_error_m", "median error (mm)", _fixed(2, 1000.0)),
)
"""(key in ``DepthMetrics.as_dict()``, column header, formatter)."""

_SURFACE_COLUMNS: tuple[tuple[str, str, Formatter], ...] = (
    ("accuracy_median_m", "accuracy median (mm)", _fixed(2, 1000.0)),
    ("accuracy_mean_m", "accuracy mean (mm)", _fixed(2, 1000.0)),
    ("completeness_median_m", "completeness median (mm)", _fixed(2, 1000.0)),
    ("completeness_mean_m", "completeness mean (mm)", _fixed(2, 1000.0)),
    ("precision", "precision", _fixed(3)),
    ("recall", "recall", _fixed(3)),
    ("fscore", "F-score", _fixed(3)),
    ("threshold_m", "threshold (mm)", _fixed(2, 1000.0)),
)
"""(key in ``SurfaceMetrics.as_dict()``, column header, formatter)."""

_TIMING_COLUMNS: tuple[tuple[str, str, Formatter], ...] = (
    ("seconds", "time (s)", _fixed(2)),
    ("frames", "frames", _integer),
    ("fps", "frames per second", _fixed(2)),
    ("peak_rss_peak_mib", "peak memory (MiB, process)", _fixed(0)),
    ("peak_cuda_peak_mib", "CUDA peak (MiB)", _fixed(0)),
)

_VIEW_SPLITS: dict[str, str] = {"held_out": "held-out frames", "train": "input (train) frames"}
_VIEW_REGIONS: dict[str, str] = {"no_instruments": "without instrument pixels", "all": "all pixels"}
UNAVAILABLE = "unavailable"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _section(method: str, entry: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise EvaluationError(f"methods[{method!r}][{key!r}] must be a mapping, got {type(value).__name__}")
    return value


def _method_label(name: str, metrics: Mapping[str, Any]) -> str:
    scale = _number(metrics.get("median_scale"))
    return f"{name} (median-scaled ×{scale:.3f})" if scale is not None else name


def _depth_tables(methods: Mapping[str, Mapping[str, Any]]) -> list[str]:
    depth = {name: _section(name, entry, "depth") for name, entry in methods.items()}
    regions = [key for key in _REGION_LABELS if any(d is not None and key in d for d in depth.values())]
    for d in depth.values():
        regions += [key for key in (d or {}) if key not in regions]
    lines: list[str] = []
    header = ["method"] + [title for _, title, _ in _DEPTH_COLUMNS]
    for region in regions:
        rows = []
        for name, d in depth.items():
            metrics = (d or {}).get(region) or {}
            if not isinstance(metrics, Mapping):
                raise EvaluationError(
                    f"methods[{name!r}]['depth'][{region!r}] must be a DepthMetrics.as_dict() mapping, "
                    f"got {type(metrics).__name__}"
                )
            rows.append(
                [_method_label(name, metrics)]
                + [render(metrics.get(key)) for key, _, render in _DEPTH_COLUMNS]
            )
        lines += [f"## Depth: {_REGION_LABELS.get(region, region)}", "", *_table(header, rows), ""]
    return lines


def _simple_table(
    methods: Mapping[str, Mapping[str, Any]],
    key: str,
    heading: str,
    columns: Sequence[tuple[str, str, Formatter]],
) -> list[str]:
    sections = {name: _section(name, entry, key) for name, entry in methods.items()}
    if all(section is None for section in sections.values()):
        return []
    header = ["method"] + [title for _, title, _ in columns]
    rows = [
        [name] + [render((section or {}).get(field)) for field, _, render in columns]
        for name, section in sections.items()
    ]
    return [f"## {heading}", "", *_table(header, rows), ""]


def _with_fps(methods: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Copies of the entries whose timing lacks ``fps`` but has ``seconds`` and ``frames``, fps filled in."""
    filled: dict[str, dict[str, Any]] = {}
    for name, entry in methods.items():
        copy = dict(entry)
        timing = _section(name, entry, "timing")
        if timing is not None and _number(timing.get("fps")) is None:
            seconds, frames = _number(timing.get("seconds")), _number(timing.get("frames"))
            if seconds is not None and frames is not None and seconds > 0.0:
                copy["timing"] = {**timing, "fps": frames / seconds}
        filled[name] = copy
    return filled


def _view_tables(methods: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Novel-view tables (PSNR, SSIM, LPIPS) per split and region, from ``methods[m]["novel_views"]``."""
    views = {name: _section(name, entry, "novel_views") or {} for name, entry in methods.items()}
    lines: list[str] = []
    reasons: list[str] = []
    for split, split_title in _VIEW_SPLITS.items():
        for region, region_title in _VIEW_REGIONS.items():
            rows = []
            for name, by_split in views.items():
                scores = (by_split.get(split) or {}).get(region)
                if scores is None:
                    rows.append([name, NOT_AVAILABLE, NOT_AVAILABLE, NOT_AVAILABLE, "0"])
                    continue
                lpips = _fixed(3)(scores.get("lpips"))
                if scores.get("lpips_unavailable"):
                    lpips = UNAVAILABLE
                    reasons.append(str(scores["lpips_unavailable"]))
                rows.append([
                    name, _fixed(2)(scores.get("psnr_db")), _fixed(3)(scores.get("ssim")), lpips,
                    _integer(scores.get("frames")),
                ])
            if any(row[-1] != "0" for row in rows):
                header = ["method", "PSNR (dB)", "SSIM", "LPIPS", "frames"]
                lines += [f"## Novel views: {split_title}, {region_title}", "", *_table(header, rows), ""]
    if reasons:
        lines += [f"LPIPS {UNAVAILABLE}: {reasons[0]}", ""]
    return lines


def _timeline_table(timeline: Sequence[Mapping[str, Any]]) -> list[str]:
    names = list(dict.fromkeys(name for point in timeline for name in point.get("methods", {})))
    if not names:
        return []
    header = ["frames arrived"] + [f"{name} tissue abs_rel" for name in names]
    header += [f"{name} held-out PSNR (dB)" for name in names]
    rows = []
    for point in timeline:
        by_method = point.get("methods", {})
        rows.append(
            [_integer(point.get("frames"))]
            + [_fixed(4)((by_method.get(name) or {}).get("tissue_abs_rel")) for name in names]
            + [_fixed(2)((by_method.get(name) or {}).get("held_out_psnr_db")) for name in names]
        )
    return ["## Metrics over time", "", *_table(header, rows), ""]


def _link(target: str, report_dir: Path) -> str:
    relative = os.path.relpath(target, report_dir) if os.path.isabs(target) else target
    relative = Path(relative).as_posix()
    return f"<{relative}>" if any(c in relative for c in " ()") else relative


def protocol_notes(
    *,
    min_depth_m: float,
    max_depth_m: float,
    median_scaling: bool = False,
    surface_threshold_m: float | None = None,
) -> list[str]:
    """Standard protocol lines for the report's notes (depth bounds, scaling, metric definitions)."""
    notes = [
        f"Ground-truth depth is evaluated in ({min_depth_m * 1000.0:g} mm, {max_depth_m * 1000.0:g} mm] "
        f"(depth cap {max_depth_m * 1000.0:g} mm); predictions are clipped to the same range.",
        "Metrics use pixels with both a valid ground truth and a prediction (finite, > 0); coverage is "
        "the share of valid ground-truth pixels that have a prediction.",
        "abs_rel = mean(|p - g| / g), sq_rel = mean((p - g)^2 / g) in metres, rmse in millimetres, "
        "rmse_log = RMS of ln p - ln g, a_k = share with max(p/g, g/p) < 1.25^k.",
        "Sequence metrics pool all evaluated pixels of all frames (pixel-weighted).",
        "The tissue region excludes specular highlights (bright, unsaturated pixels, dilated) "
        "and instruments.",
    ]
    notes.append(
        "Predictions are median-scaled per frame (factor shown next to the method)."
        if median_scaling
        else "No median scaling: stereo depth is evaluated in metres as predicted."
    )
    if surface_threshold_m is not None:
        notes.append(
            f"Surface accuracy: prediction-to-ground-truth nearest-neighbour distance; completeness: the "
            f"reverse; precision/recall/F-score at {surface_threshold_m * 1000.0:g} mm."
        )
    return notes


def write_report(
    path: str | os.PathLike[str],
    *,
    title: str,
    methods: Mapping[str, Mapping[str, Any]],
    figures: Sequence[tuple[str, str]],
    notes: Sequence[str],
    timeline: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Write a markdown report to ``path`` (e.g. ``results/run/report.md``; parent directories are created).

    ``methods`` maps a method name (one table row, in mapping order) to a dict of optional sections::

        {
            "<method>": {
                "depth": {                              # one table per region
                    "all": DepthMetrics.as_dict(),      # "all pixels"
                    "tissue": DepthMetrics.as_dict(),   # "tissue region"
                },
                "timing": {"seconds": float, "frames": int, "fps": float,
                           "peak_rss_peak_mib": float, "peak_cuda_peak_mib": float | None},
                "surface": SurfaceMetrics.as_dict(),
                "novel_views": {                        # one table per split and region
                    "held_out" | "train": {
                        "no_instruments" | "all": {"psnr_db", "ssim", "lpips", "frames",
                                                    "lpips_unavailable": reason (when LPIPS is)},
                    },
                },
            },
        }

    Every section and key may be absent or ``None`` (shown as "n/a"); ``fps`` is derived from
    ``frames / seconds`` when missing. Depth tables are written for each region any method has (other
    region keys get their own table, titled by the key), the surface table when any method has
    ``"surface"``, the timing table when any has ``"timing"``. A method whose depth metrics carry a
    ``median_scale`` is labelled with it. ``figures`` are ``(caption, path)`` pairs; absolute paths are
    made relative to the report's folder. ``notes`` are the protocol lines (see :func:`protocol_notes`).
    ``timeline`` (metrics over time) is a list of ``{"frames": n, "methods": {name: {"tissue_abs_rel",
    "held_out_psnr_db"}}}`` points, written as a table.
    """
    for name, entry in methods.items():
        if not isinstance(entry, Mapping):
            raise EvaluationError(
                f"methods[{name!r}] must be a mapping of sections, got {type(entry).__name__}"
            )
    destination = Path(path)
    lines = [f"# {title}", ""]
    if not methods:
        lines += ["No method was evaluated.", ""]
    lines += _depth_tables(methods)
    lines += _simple_table(methods, "surface", "Surface", _SURFACE_COLUMNS)
    lines += _view_tables(methods)
    lines += _simple_table(_with_fps(methods), "timing", "Timing and memory (compute cost)", _TIMING_COLUMNS)
    lines += _timeline_table(timeline)
    if figures:
        lines += ["## Figures", ""]
        for caption, target in figures:
            lines += [f"**{caption}**", "", f"![{caption}]({_link(target, destination.parent)})", ""]
    if notes:
        lines += ["## Protocol", ""]
        lines += [f"- {note}" for note in notes]
        lines.append("")
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text("\n".join(lines), encoding="utf-8")
