"""Files a replay writes: depth PNGs, PLY surfaces, metrics.json (versioned schema) and report.md."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.pipeline.errors import ReplayError

METRICS_SCHEMA_VERSION = 2
DEPTH_PNG_MAX_MM = 65535


def depth_png_path(out_dir: Path, index: int, stamp_ns: int) -> Path:
    """Where frame ``index``'s prior depth PNG goes."""
    return out_dir / "depth_prior" / f"{index:05d}_{stamp_ns}.png"


def write_depth_png(path: Path, depth_m: NDArray[np.floating]) -> None:
    """Depth (H, W) metres as a 16-bit PNG in millimetres (0 = no depth), the common ROS/OpenCV layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    millimetres = np.where(np.isfinite(depth_m) & (depth_m > 0), np.rint(depth_m * 1000.0), 0)
    if not cv2.imwrite(str(path), np.clip(millimetres, 0, DEPTH_PNG_MAX_MM).astype(np.uint16)):
        raise ReplayError(f"cannot write depth PNG {path}")


def read_depth_png(path: Path) -> NDArray[np.float32]:
    """Inverse of :func:`write_depth_png`: depth (H, W) in metres, 0 where none."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.dtype != np.uint16:
        raise ReplayError(f"{path} is not a 16-bit depth PNG")
    return (image.astype(np.float32) / 1000.0).astype(np.float32)


def write_mesh(path: Path, mesh: o3d.geometry.TriangleMesh) -> None:
    """A triangle mesh with vertex colours as binary PLY."""
    if not o3d.io.write_triangle_mesh(str(path), mesh, write_ascii=False):
        raise ReplayError(f"cannot write mesh {path}")


def write_cloud(path: Path, cloud: o3d.geometry.PointCloud) -> None:
    """A coloured point cloud as binary PLY."""
    if not o3d.io.write_point_cloud(str(path), cloud, write_ascii=False):
        raise ReplayError(f"cannot write point cloud {path}")


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(path: Path, document: dict[str, Any]) -> None:
    """metrics.json with ``schema_version`` first; NaN and infinity become null."""
    payload = {"schema_version": METRICS_SCHEMA_VERSION, **document}
    path.write_text(json.dumps(_json_safe(payload), indent=2) + "\n")
