"""Markdown report: numbers, rounding, units, n/a, figures and protocol notes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stereo_nerf_core.eval.depth_metrics import depth_metrics
from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.report import protocol_notes, write_report

DEPTH_HEADER = (
    "| method | abs_rel | sq_rel (m) | rmse (mm) | rmse_log | a1 | a2 | a3 | "
    "coverage (%) | median error (mm) |"
)


def _depth(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "abs_rel": 0.0123456,
        "sq_rel": 1.234e-5,
        "rmse": 0.0023456,
        "rmse_log": 0.0345678,
        "a1": 0.98765,
        "a2": 0.99512,
        "a3": 0.99987,
        "median_abs_error_m": 0.00151,
        "coverage": 0.98765,
        "n_valid_gt": 1000,
        "n_evaluated": 988,
        "min_depth_m": 0.001,
        "max_depth_m": 0.3,
        "median_scale": None,
    }
    values.update(overrides)
    return values


def _methods() -> dict[str, dict[str, Any]]:
    return {
        "sgbm": {
            "depth": {"all": _depth(), "tissue": _depth(abs_rel=0.0101, rmse=None)},
            "timing": {"seconds": 12.345, "frames": 100, "fps": 8.1004},
            "surface": {
                "accuracy_median_m": 0.00042,
                "accuracy_mean_m": 0.000613,
                "completeness_median_m": 0.0011,
                "completeness_mean_m": 0.00234,
                "precision": 0.91234,
                "recall": 0.4,
                "fscore": 0.55610,
                "threshold_m": 0.001,
                "n_pred": 10,
                "n_gt": 12,
            },
        },
        "nerf | v2": {
            "depth": {"all": _depth(abs_rel=0.25, median_scale=1.02345)},
            "timing": {"seconds": 50.0, "frames": 100},
        },
    }


def _write(tmp_path: Path, **kwargs: Any) -> str:
    path = tmp_path / "out" / "report.md"
    arguments: dict[str, Any] = {
        "title": "Sample bag",
        "methods": _methods(),
        "figures": [
            ("Frame 0", str(tmp_path / "out" / "figures" / "frame_000.png")),
            ("Frame 9", "figures/f 9.png"),
        ],
        "notes": protocol_notes(min_depth_m=0.001, max_depth_m=0.3, surface_threshold_m=0.001),
    }
    arguments.update(kwargs)
    write_report(path, **arguments)
    return path.read_text(encoding="utf-8")


def test_depth_tables_round_and_label(tmp_path: Path) -> None:
    text = _write(tmp_path)
    assert text.startswith("# Sample bag\n")
    assert "## Depth: all pixels" in text and "## Depth: tissue region" in text
    assert text.count(DEPTH_HEADER) == 2
    # abs_rel 4 decimals, sq_rel 3 significant digits in metres, rmse mm 2 decimals, rmse_log 4 decimals,
    # a_k 3 decimals, coverage % 1 decimal, median error mm 2 decimals.
    assert "| sgbm | 0.0123 | 1.23e-05 | 2.35 | 0.0346 | 0.988 | 0.995 | 1.000 | 98.8 | 1.51 |" in text
    tissue = text[text.index("## Depth: tissue region") :]
    assert "| sgbm | 0.0101 | 1.23e-05 | n/a | 0.0346 |" in tissue
    # The second method has no tissue metrics: a full row of n/a; its name's "|" is escaped.
    assert "| nerf \\| v2 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |" in tissue
    assert "| nerf \\| v2 (median-scaled ×1.023) | 0.2500 |" in text
    assert "TODO" not in text


def test_surface_and_timing_tables(tmp_path: Path) -> None:
    text = _write(tmp_path)
    assert "## Surface" in text
    assert (
        "| method | accuracy median (mm) | accuracy mean (mm) | completeness median (mm) | "
        "completeness mean (mm) | precision | recall | F-score | threshold (mm) |"
    ) in text
    assert "| sgbm | 0.42 | 0.61 | 1.10 | 2.34 | 0.912 | 0.400 | 0.556 | 1.00 |" in text
    assert "| nerf \\| v2 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |" in text
    assert "| method | time (s) | frames | frames per second |" in text
    assert "| sgbm | 12.35 | 100 | 8.10 |" in text
    assert "| nerf \\| v2 | 50.00 | 100 | 2.00 |" in text  # fps derived from frames / seconds


def test_figures_and_notes(tmp_path: Path) -> None:
    text = _write(tmp_path)
    assert "![Frame 0](figures/frame_000.png)" in text  # absolute path made relative to the report
    assert "![Frame 9](<figures/f 9.png>)" in text
    assert text.index("## Depth: all pixels") < text.index("## Figures") < text.index("## Protocol")
    assert "- Ground-truth depth is evaluated in (1 mm, 300 mm] (depth cap 300 mm)" in text
    assert "No median scaling" in text
    assert "precision/recall/F-score at 1 mm" in text


def test_optional_sections_are_omitted(tmp_path: Path) -> None:
    methods = {
        "sgbm": {
            "depth": {"all": depth_metrics([[0.11, 0.2], [0.15, 0.19]], [[0.1, 0.2], [0.1, 0.1]]).as_dict()}
        }
    }
    text = _write(tmp_path, methods=methods, figures=[], notes=[])
    # Hand-computed 2x2 example: abs_rel 0.375, rmse 51.72 mm, rmse_log 0.3826, a 0.5/0.75/1, median 30 mm.
    # (sq_rel = 0.02675 sits on a rounding tie at 3 significant digits, so it is not asserted here.)
    assert "| sgbm | 0.3750 | " in text
    assert " | 51.72 | 0.3826 | 0.500 | 0.750 | 1.000 | 100.0 | 30.00 |" in text
    for heading in ("## Depth: tissue region", "## Surface", "## Timing", "## Figures", "## Protocol"):
        assert heading not in text
    empty = _write(tmp_path, methods={}, figures=[], notes=[])
    assert "No method was evaluated." in empty and "TODO" not in empty


def test_nan_strings_and_bad_entries(tmp_path: Path) -> None:
    methods = {"m": {"depth": {"all": _depth(abs_rel=float("nan"), a1="0.9")}}}
    text = _write(tmp_path, methods=methods)
    assert "| m | n/a | 1.23e-05 | 2.35 | 0.0346 | n/a |" in text
    with pytest.raises(EvaluationError, match="methods\\['m'\\]\\['depth'\\]"):
        _write(tmp_path, methods={"m": {"depth": [1, 2]}})
    with pytest.raises(EvaluationError, match="methods\\['m'\\]"):
        _write(tmp_path, methods={"m": 3})


def test_protocol_notes_mention_scaling() -> None:
    notes = protocol_notes(min_depth_m=0.001, max_depth_m=0.25, median_scaling=True)
    assert any("250 mm" in note for note in notes)
    assert any("median-scaled" in note for note in notes)
    assert not any("F-score" in note for note in notes)
