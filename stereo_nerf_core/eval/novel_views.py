"""Novel views: the renderers of the non-neural methods and the image scores (PSNR, SSIM, LPIPS).

* :func:`forward_warp`: a source image moved into another camera through its depth (the
  ``stereo_prior`` method's novel view): every source pixel with a depth is splatted onto the 2x2
  target pixels around its projection; a target pixel takes the nearest surface among the points
  projecting closest to it (z-buffer), the other splats only fill cracks; pixels nothing lands on
  stay black (they count in the scores: the warp has nothing there).
* :class:`ColouredMeshRaycaster`: a coloured mesh ray-cast into a pinhole camera (the ``tsdf_fusion``
  method's novel view and depth): barycentric interpolation of the hit triangle's vertex colours, no
  shading; black where no triangle is hit.
* :class:`ViewScores`: mean PSNR, SSIM (kornia, 11 px Gaussian window) and LPIPS (AlexNet) per split
  and region. LPIPS needs the ``lpips`` package (its bundled linear weights) and torchvision's
  pretrained AlexNet from the torch hub cache; nothing is downloaded and random weights are never
  used: without them the scores say "unavailable" and why (:func:`load_lpips`).

Images are float RGB (H, W, 3) in [0, 1] on the rectified left grid; masks are (H, W) bool.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kornia
import numpy as np
import open3d as o3d
import torch
from numpy.typing import NDArray

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.image_metrics import psnr

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
ALEXNET_CHECKPOINT = "alexnet-owt-7be5be79.pth"
"""torchvision's pretrained AlexNet file name in ``<torch hub dir>/checkpoints``."""

LpipsFunction = Callable[[F32, F32, NDArray[np.bool_]], float]


def forward_warp(
    rgb: NDArray[np.generic],
    depth: NDArray[np.floating],
    K: F64,
    T_world_source: F64,
    T_world_target: F64,
    size: tuple[int, int],
) -> tuple[F32, F32]:
    """``rgb`` (H, W, 3) seen with ``depth`` (H, W, Z metres, 0/NaN = none) moved into the target camera.

    Both cameras share the intrinsics ``K`` (3, 3); ``size`` is the target's (width, height). Returns
    the warped image (height, width, 3) float in [0, 1] and the warped depth (height, width), Z in the
    target camera of the surface point that won each pixel, 0 where nothing landed.
    """
    image = np.asarray(rgb)
    values = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    z = np.asarray(depth, np.float64)
    if values.ndim != 3 or values.shape[2] != 3 or z.shape != values.shape[:2]:
        raise EvaluationError(f"forward_warp needs rgb (H, W, 3) and depth (H, W), got {values.shape} and {z.shape}")
    width, height = size
    rows, columns = np.nonzero(np.isfinite(z) & (z > 0))
    d = z[rows, columns]
    points = np.stack([(columns - K[0, 2]) / K[0, 0] * d, (rows - K[1, 2]) / K[1, 1] * d, d], axis=1)
    T = np.linalg.inv(T_world_target) @ T_world_source
    moved = points @ T[:3, :3].T + T[:3, 3]
    ahead = moved[:, 2] > 1e-6
    moved, colours = moved[ahead], values[rows[ahead], columns[ahead]]
    u = K[0, 0] * moved[:, 0] / moved[:, 2] + K[0, 2]
    v = K[1, 1] * moved[:, 1] / moved[:, 2] + K[1, 2]
    targets, ranks, depths, sources = [], [], [], []
    nearest_u, nearest_v = np.rint(u).astype(np.int64), np.rint(v).astype(np.int64)
    for du in (0, 1):
        for dv in (0, 1):
            tu, tv = np.floor(u).astype(np.int64) + du, np.floor(v).astype(np.int64) + dv
            inside = (tu >= 0) & (tu < width) & (tv >= 0) & (tv < height)
            targets.append(tv[inside] * width + tu[inside])
            ranks.append(((tu != nearest_u) | (tv != nearest_v))[inside])
            depths.append(moved[inside, 2])
            sources.append(np.nonzero(inside)[0])
    target, rank = np.concatenate(targets), np.concatenate(ranks)
    near, source = np.concatenate(depths), np.concatenate(sources)
    # per target pixel: points whose nearest pixel it is first (the others only fill cracks), nearest first
    order = np.lexsort((near, rank, target))
    first = np.unique(target[order], return_index=True)[1]
    chosen = order[first]
    out = np.zeros((height * width, 3), np.float32)
    out_depth = np.zeros(height * width, np.float32)
    out[target[chosen]] = colours[source[chosen]]
    out_depth[target[chosen]] = near[chosen]
    return out.reshape(height, width, 3), out_depth.reshape(height, width)


class ColouredMeshRaycaster:
    """Depth and colour of a mesh with vertex colours seen by pinhole cameras (the scene is built once)."""

    def __init__(self, mesh: o3d.geometry.TriangleMesh) -> None:
        self.faces = np.asarray(mesh.triangles, np.int64)
        vertices = np.asarray(mesh.vertices)
        self.colours = (
            np.asarray(mesh.vertex_colors, np.float64) if mesh.has_vertex_colors() else np.full((len(vertices), 3), 0.8)
        )
        self.scene = o3d.t.geometry.RaycastingScene()
        if len(self.faces):
            self.scene.add_triangles(vertices.astype(np.float32), self.faces.astype(np.uint32))

    def cast(self, K: F64, size: tuple[int, int], T_world_camera: F64) -> tuple[F32, F32]:
        """Depth (H, W) Z in metres (NaN where missed) and colour (H, W, 3) in [0, 1] (black where missed)."""
        width, height = size
        if len(self.faces) == 0:
            return np.full((height, width), np.nan, np.float32), np.zeros((height, width, 3), np.float32)
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        directions = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=2)
        directions = directions @ T_world_camera[:3, :3].T  # z = 1 in the camera: the hit distance is Z
        origins = np.broadcast_to(T_world_camera[:3, 3], directions.shape)
        rays = o3d.core.Tensor(np.concatenate([origins, directions], axis=2).astype(np.float32))
        result = self.scene.cast_rays(rays)
        hits = result["t_hit"].numpy()
        found = np.isfinite(hits)
        ids = np.where(found, result["primitive_ids"].numpy(), 0).astype(np.int64)
        uv = result["primitive_uvs"].numpy().astype(np.float64)
        barycentric = np.stack([1.0 - uv[..., 0] - uv[..., 1], uv[..., 0], uv[..., 1]], axis=-1)
        colour = (self.colours[self.faces[ids]] * barycentric[..., None]).sum(axis=-2)
        colour = np.where(found[..., None], np.clip(colour, 0.0, 1.0), 0.0)
        return np.where(found, hits, np.nan).astype(np.float32), colour.astype(np.float32)


def ssim(pred: F32, gt: F32, mask: NDArray[np.bool_] | None = None) -> float:
    """Mean SSIM (kornia, 11 px Gaussian window) of (H, W, 3) images over the pixels of ``mask``."""
    a = torch.from_numpy(np.ascontiguousarray(pred, np.float32)).permute(2, 0, 1)[None]
    b = torch.from_numpy(np.ascontiguousarray(gt, np.float32)).permute(2, 0, 1)[None]

    values = kornia.metrics.ssim(a, b, window_size=11)[0].mean(0).numpy()
    chosen = values if mask is None else values[mask]
    return float(chosen.mean()) if chosen.size else math.nan


def load_lpips(*, hub_dir: Path | None = None) -> tuple[LpipsFunction | None, str | None]:
    """An LPIPS (AlexNet) function ``(pred, gt, mask) -> float`` and None, or None and why it is unavailable.

    Only weights already on disk are used: the lpips package's linear layers and torchvision's AlexNet
    in ``<hub_dir>/checkpoints`` (default :func:`torch.hub.get_dir`).
    """
    try:
        import lpips
    except Exception as error:  # a broken torchvision raises RuntimeError, a missing package ImportError
        return None, f"cannot import lpips: {type(error).__name__}: {error}"
    checkpoint = (hub_dir or Path(torch.hub.get_dir())) / "checkpoints" / ALEXNET_CHECKPOINT
    if not checkpoint.is_file():
        return None, f"torchvision's pretrained AlexNet is not in the torch hub cache ({checkpoint}); not downloaded"
    try:
        model = lpips.LPIPS(net="alex", pretrained=True, spatial=True, verbose=False).eval()
    except Exception as error:
        return None, f"cannot load the LPIPS AlexNet weights: {type(error).__name__}: {error}"

    def score(pred: F32, gt: F32, mask: NDArray[np.bool_]) -> float:
        a = torch.from_numpy(np.ascontiguousarray(pred, np.float32)).permute(2, 0, 1)[None] * 2 - 1
        b = torch.from_numpy(np.ascontiguousarray(gt, np.float32)).permute(2, 0, 1)[None] * 2 - 1
        with torch.no_grad():
            values = model(a, b)[0, 0].numpy()
        chosen = values[mask]
        return float(chosen.mean()) if chosen.size else math.nan

    return score, None


@dataclass
class _Pool:
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    lpips: list[float] = field(default_factory=list)


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


class ViewScores:
    """Per-frame image scores pooled per split ("train", "held_out") and region (mean over frames)."""

    def __init__(self, lpips_function: LpipsFunction | None, lpips_reason: str | None) -> None:
        self.lpips_function = lpips_function
        self.lpips_reason = lpips_reason
        self.pools: dict[str, dict[str, _Pool]] = {}

    def add(self, split: str, pred: F32, gt: F32, regions: Mapping[str, NDArray[np.bool_]]) -> dict[str, float]:
        """Score one render ``pred`` against ``gt`` (both (H, W, 3) in [0, 1]); returns the PSNR per region."""
        if pred.shape != gt.shape:
            raise EvaluationError(f"a rendered view is {pred.shape}, its ground-truth image {gt.shape}")
        result = {}
        for region, mask in regions.items():
            pool = self.pools.setdefault(split, {}).setdefault(region, _Pool())
            value = psnr(pred, gt, mask=mask)
            pool.psnr.append(value)
            pool.ssim.append(ssim(pred, gt, mask))
            if self.lpips_function is not None:
                pool.lpips.append(self.lpips_function(pred, gt, mask))
            result[region] = value
        return result

    def results(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{split: {region: {"frames", "psnr_db", "ssim", "lpips", "lpips_unavailable"?}}}``."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for split, regions in self.pools.items():
            for region, pool in regions.items():
                entry: dict[str, Any] = {
                    "frames": len(pool.psnr),
                    "psnr_db": _mean(pool.psnr),
                    "ssim": _mean(pool.ssim),
                    "lpips": _mean(pool.lpips) if self.lpips_function is not None else None,
                }
                if self.lpips_function is None:
                    entry["lpips_unavailable"] = self.lpips_reason
                out.setdefault(split, {})[region] = entry
        return out
