"""``SilhouetteRenderer``: soft (differentiable) and hard silhouettes of one mesh at a pose."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from stereo_nerf_core.alignment.contour import contour_silhouette, edge_topology, fold_edges
from stereo_nerf_core.alignment.hard_raster import HardRasterizer
from stereo_nerf_core.alignment.mesh import Mesh
from stereo_nerf_core.alignment.pose import project
from stereo_nerf_core.alignment.softras import softras_silhouette

Rasterizer = Literal["contour", "softras"]
"""Soft silhouette models: ``contour`` (signed distance to the outline, unbiased) or ``softras``."""

_OUTLINE_PROBE_PX = 0.35
"""An outline edge's outer side is probed this many pixels out from its midpoint."""


class SilhouetteRenderer:
    """Silhouettes of ``mesh``: ``soft`` (torch, on ``device``) and ``hard`` (exact, ray cast on the CPU)."""

    def __init__(self, mesh: Mesh, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> None:
        self.mesh = mesh
        self.device = torch.device(device)
        self.dtype = dtype
        self.rasterizer = HardRasterizer(mesh)
        self.vertices = torch.as_tensor(mesh.vertices, dtype=dtype, device=self.device)
        self.faces = torch.as_tensor(mesh.faces, device=self.device)
        topology = edge_topology(mesh.faces)
        self.edges = torch.as_tensor(topology.edges, device=self.device)
        self.opposite = torch.as_tensor(topology.opposite, device=self.device)

    def project(self, T_camera_object: Tensor, K: NDArray[np.float64]) -> Tensor:
        """Pixel coordinates (V, 2) of the vertices at pose ``T_camera_object`` (4, 4) (differentiable)."""
        points = self.vertices @ T_camera_object[:3, :3].T + T_camera_object[:3, 3]
        return project(points, torch.as_tensor(K, dtype=self.dtype, device=self.device))

    def _window(self, T_camera_object: NDArray[np.float64], points: Tensor) -> tuple[int, int, int, int] | None:
        """Pixel box (x0, y0, x1, y1) holding the projected mesh; None (whole image) if it reaches behind the camera."""
        depth = self.mesh.vertices @ T_camera_object[2, :3] + T_camera_object[2, 3]
        if depth.min() <= 1e-6:
            return None
        lo = points.detach().amin(0).floor().long().tolist()
        hi = points.detach().amax(0).ceil().long().tolist()
        return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])

    def hard(self, T_camera_object: NDArray[np.float64], K: NDArray[np.float64], width: int, height: int) -> NDArray:
        """Exact masks (N, height, width) bool at poses (N, 4, 4) (or (height, width) for one (4, 4) pose)."""
        poses = np.asarray(T_camera_object, dtype=np.float64)
        masks = self.rasterizer.render(poses.reshape(-1, 4, 4), K, width, height)
        return masks[0] if poses.ndim == 2 else masks

    def soft(
        self,
        T_camera_object: Tensor,
        K: NDArray[np.float64],
        width: int,
        height: int,
        *,
        sigma_px: float,
        margin: float = 6.0,
        tile_size: int = 8,
        rasterizer: Rasterizer = "contour",
    ) -> Tensor:
        """Soft silhouette (height, width) in [0, 1] at pose ``T_camera_object`` (4, 4) on ``self.device``.

        Differentiable w.r.t. the pose; ``sigma_px`` is the edge softness in pixels.
        """
        points = self.project(T_camera_object.to(self.device, self.dtype), K)
        if rasterizer == "softras":
            return softras_silhouette(points, self.faces, height, width, sigma_px=sigma_px, margin=margin)
        pose = T_camera_object.detach().to("cpu", torch.float64).numpy()[None]
        inside = self.rasterizer.render(pose, K, width, height, window=self._window(pose[0], points))[0]
        index, outward = fold_edges(points.detach(), self.edges, self.opposite)
        edges = self.edges[index]
        midpoints = (points.detach()[edges[:, 0]] + points.detach()[edges[:, 1]]) / 2.0
        probes = (midpoints + _OUTLINE_PROBE_PX * outward).cpu().double().numpy()
        hidden = torch.as_tensor(self.rasterizer.covers(pose, K, probes)[0], device=self.device)
        return contour_silhouette(
            points,
            edges[~hidden],
            torch.as_tensor(inside, device=self.device),
            sigma_px=sigma_px,
            margin=margin,
            tile_size=tile_size,
        )
