"""Figures of an alignment: mask/silhouette overlays, the optimisation GIF and a start/result PNG.

Overlay colours: observed mask only green, rendered silhouette only magenta, both white.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from stereo_nerf_core.alignment.align import AlignmentResult


def overlay(observed: NDArray, rendered: NDArray) -> NDArray[np.uint8]:
    """RGB image (H, W, 3) of an observed mask and a rendered silhouette (H, W), both in [0, 1]."""
    obs = np.clip(np.asarray(observed, dtype=np.float32), 0.0, 1.0)
    ren = np.clip(np.asarray(rendered, dtype=np.float32), 0.0, 1.0)
    return (np.stack([ren, obs, ren], axis=2) * 255.0 + 0.5).astype(np.uint8)


def _side_by_side(images: list[NDArray[np.uint8]], scale: int) -> NDArray[np.uint8]:
    height = max(image.shape[0] for image in images)
    tiles = []
    for image in images:
        padded = np.zeros((height, image.shape[1], 3), np.uint8)
        padded[: image.shape[0]] = image
        tiles.extend([padded, np.full((height, 2, 3), 96, np.uint8)])
    row = np.concatenate(tiles[:-1], axis=1)
    return cv2.resize(row, (row.shape[1] * scale, row.shape[0] * scale), interpolation=cv2.INTER_NEAREST)


def animation_frames(result: AlignmentResult, *, min_height: int = 256) -> list[NDArray[np.uint8]]:
    """Frames (H, W, 3) of the recorded iterations: one overlay per view side by side, iteration and loss."""
    if not result.targets:
        return []
    scale = max(1, -(-min_height // max(target.shape[0] for target in result.targets)))
    frames = []
    for iteration, loss, silhouettes in result.frames:
        overlays = [overlay(t, s.astype(np.float32)) for t, s in zip(result.targets, silhouettes, strict=True)]
        frame = np.ascontiguousarray(_side_by_side(overlays, scale))
        text = f"iter {iteration}  loss {loss:.3f}"
        cv2.putText(frame, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
        frames.append(frame)
    return frames


def write_gif(path: str | Path, frames: list[NDArray[np.uint8]], *, frame_ms: int = 100) -> None:
    """Write ``frames`` (H, W, 3) as a looping GIF; the last frame is held for a second."""
    if not frames:
        frames = [np.zeros((8, 8, 3), np.uint8)]
    durations = [frame_ms] * (len(frames) - 1) + [1000]
    iio.imwrite(path, np.stack(frames), duration=durations, loop=0)


def comparison_figure(result: AlignmentResult) -> Figure:
    """Figure with one row per view: observed mask, start overlay and result overlay (IoU in the titles)."""
    rows = len(result.targets)
    figure = Figure(figsize=(9.0, 3.0 * rows), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, 3, squeeze=False)
    for row, name in enumerate(result.view_names):
        target = result.targets[row]
        panels = [
            (np.stack([target] * 3, axis=2), f"{name}: observed mask"),
            (overlay(target, result.start_masks[row]), f"start, IoU {result.start_iou[row]:.3f}"),
            (overlay(target, result.final_masks[row]), f"result, IoU {result.iou[row]:.3f}"),
        ]
        for axis, (image, title) in zip(axes[row], panels, strict=True):
            axis.imshow(image, interpolation="nearest")
            axis.set_title(title, fontsize=9)
            axis.set_axis_off()
    figure.suptitle("green: observed only, magenta: rendered only, white: both", fontsize=9)
    figure.tight_layout()
    return figure


def write_outputs(result: AlignmentResult, directory: str | Path) -> dict[str, Path]:
    """Write ``optimisation.gif`` and ``comparison.png`` into ``directory``; returns their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"gif": out / "optimisation.gif", "png": out / "comparison.png"}
    write_gif(paths["gif"], animation_frames(result))
    comparison_figure(result).savefig(paths["png"])
    return paths
