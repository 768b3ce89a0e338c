"""Depth comparison figure: a real PNG, no pyplot state."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.figures import depth_comparison_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    h, w = 48, 64
    u, v = np.meshgrid(np.linspace(0.0, 1.0, w), np.linspace(0.0, 1.0, h))
    gt = 0.05 + 0.08 * u + 0.02 * v
    gt[:5, :5] = np.nan
    pred = gt + rng.normal(0.0, 0.002, size=gt.shape)
    pred[20:25, 30:40] = 0.0
    rgb = (np.stack([u, v, 0.5 * np.ones_like(u)], axis=2) * 255).astype(np.uint8)
    return rgb, pred, gt


def test_figure_is_a_valid_png(tmp_path: Path) -> None:
    rgb, pred, gt = _scene()
    path = tmp_path / "figures" / "frame_000.png"
    depth_comparison_figure(path, rgb, pred, gt, title="frame 0", max_depth_m=0.3)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000
    pixels = matplotlib.image.imread(path)
    height, width = pixels.shape[:2]
    assert width > 2 * height  # four panels side by side
    assert float(np.std(pixels[..., :3])) > 0.05  # not a blank canvas


def test_figure_does_not_leave_pyplot_figures(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    rgb, pred, gt = _scene()
    depth_comparison_figure(
        tmp_path / "f.png", rgb.astype(np.float64) / 255.0, pred, gt, title="t", max_depth_m=0.3,
        depth_range_m=(0.04, 0.16), max_error_mm=5.0,
    )  # fmt: skip
    assert plt.get_fignums() == before


def test_figure_without_any_prediction_does_not_crash(tmp_path: Path) -> None:
    rgb, _, gt = _scene()
    path = tmp_path / "empty.png"
    depth_comparison_figure(path, rgb[..., 0], np.full(gt.shape, np.nan), gt, title="empty", max_depth_m=0.3)
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_figure_rejects_mismatched_shapes(tmp_path: Path) -> None:
    rgb, pred, gt = _scene()
    with pytest.raises(EvaluationError, match=r"\(48, 64\).*\(48, 63\)"):
        depth_comparison_figure(tmp_path / "x.png", rgb, pred, gt[:, :63], title="x", max_depth_m=0.3)
    with pytest.raises(EvaluationError, match="depth_range_m"):
        depth_comparison_figure(
            tmp_path / "x.png", rgb, pred, gt, title="x", max_depth_m=0.3, depth_range_m=(0.2, 0.1)
        )
    assert not (tmp_path / "x.png").exists()
