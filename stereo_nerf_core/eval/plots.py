"""Report figures beyond depth maps: novel views, trajectory, metrics over time and a mesh turntable.

Headless matplotlib (:class:`matplotlib.figure.Figure`, no pyplot state); every function writes one
PNG and creates its parent folder. Images are (H, W, 3) uint8 or float in [0, 1].
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import open3d as o3d
from matplotlib.figure import Figure
from numpy.typing import NDArray

from stereo_nerf_core.eval.errors import EvaluationError

matplotlib.use("Agg")

F64 = NDArray[np.float64]


def _save(figure: Figure, path: str | os.PathLike[str]) -> None:
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(destination, format="png")


def novel_view_figure(
    path: str | os.PathLike[str],
    ground_truth: NDArray[Any],
    renders: Sequence[tuple[str, NDArray[Any]]],
    *,
    title: str,
) -> None:
    """One row: the recorded image, then each ``(caption, image)`` render (captions carry the scores)."""
    panels = [("recorded image (ground truth)", ground_truth), *renders]
    height, width = np.asarray(ground_truth).shape[:2]
    size = 3.2
    figure = Figure(figsize=(size * len(panels), size * height / width + 0.8), dpi=100, layout="constrained")
    figure.suptitle(title)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (caption, image) in zip(axes, panels, strict=True):
        if np.asarray(image).shape[:2] != (height, width):
            raise EvaluationError(f"render {caption!r} is {np.asarray(image).shape}, the image {(height, width)}")
        ax.imshow(image)
        ax.set_title(caption, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    _save(figure, path)


def trajectory_figure(path: str | os.PathLike[str], estimated: F64, truth: F64 | None, *, title: str) -> None:
    """Camera positions (N, 3) in metres, plotted in millimetres: top view (x, z) and side view (z, y).

    ``estimated`` should already be aligned to ``truth`` (same world); ``truth`` may be None.
    """
    figure = Figure(figsize=(10, 4.4), dpi=100, layout="constrained")
    figure.suptitle(title)
    top, side = figure.subplots(1, 2)
    for ax, (a, b), name in ((top, (0, 2), "top view"), (side, (2, 1), "side view")):
        labels = "xyz"
        if truth is not None and len(truth):
            ax.plot(1000 * truth[:, a], 1000 * truth[:, b], "k-", lw=2.5, alpha=0.5, label="ground truth")
        if len(estimated):
            ax.plot(1000 * estimated[:, a], 1000 * estimated[:, b], "C1.-", ms=3, lw=1, label="estimated")
            ax.plot(1000 * estimated[0, a], 1000 * estimated[0, b], "go", label="start")
        ax.set_xlabel(f"{labels[a]} (mm)")
        ax.set_ylabel(f"{labels[b]} (mm)")
        ax.set_title(name)
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(figure, path)


def timeline_figure(path: str | os.PathLike[str], timeline: Sequence[Mapping[str, Any]], *, title: str) -> None:
    """Metrics over time: tissue abs_rel and held-out PSNR of each method against the frames arrived."""
    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    figure.suptitle(title)
    depth_ax, view_ax = figure.subplots(1, 2)
    names = list(dict.fromkeys(name for point in timeline for name in point["methods"]))
    for index, name in enumerate(names):
        for ax, key in ((depth_ax, "tissue_abs_rel"), (view_ax, "held_out_psnr_db")):
            xs = [p["frames"] for p in timeline if (p["methods"].get(name) or {}).get(key) is not None]
            ys = [p["methods"][name][key] for p in timeline if (p["methods"].get(name) or {}).get(key) is not None]
            if xs:
                ax.plot(xs, ys, "o-", color=f"C{index}", label=name)
    depth_ax.set_ylabel("tissue abs_rel (lower is better)")
    view_ax.set_ylabel("held-out PSNR (dB, no instruments; higher is better)")
    for ax in (depth_ax, view_ax):
        ax.set_xlabel("frames arrived")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    _save(figure, path)


def orbit_poses(T_world_camera: F64, centre: F64, angles_deg: Sequence[float]) -> list[F64]:
    """Poses (4, 4) looking at ``centre`` from the reference camera's distance, turned about its up axis."""
    eye = T_world_camera[:3, 3]
    up = -T_world_camera[:3, 1]  # image rows grow downwards: camera -y is up
    offset = eye - centre
    poses = []
    for angle in angles_deg:
        theta = math.radians(angle)
        axis = up / np.linalg.norm(up)
        # Rodrigues rotation of the offset about the up axis through the centre
        rotated = (
            offset * math.cos(theta)
            + np.cross(axis, offset) * math.sin(theta)
            + axis * (axis @ offset) * (1 - math.cos(theta))
        )
        position = centre + rotated
        forward = (centre - position) / np.linalg.norm(centre - position)
        right = np.cross(forward, -axis)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        pose = np.eye(4)
        pose[:3, :3] = np.stack([right, down, forward], axis=1)
        pose[:3, 3] = position
        poses.append(pose)
    return poses


def shaded_render(mesh: o3d.geometry.TriangleMesh, K: F64, size: tuple[int, int], T_world_camera: F64) -> F64:
    """(H, W, 3) vertex colours x (0.3 + 0.7 |n . view|) where the mesh is hit, white elsewhere."""
    width, height = size
    faces = np.asarray(mesh.triangles, np.int64)
    if len(faces) == 0:
        return np.ones((height, width, 3))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(np.asarray(mesh.vertices, np.float32), faces.astype(np.uint32))
    rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
        o3d.core.Tensor(K), o3d.core.Tensor(np.linalg.inv(T_world_camera)), width, height
    )
    hit = scene.cast_rays(rays)
    found = np.isfinite(hit["t_hit"].numpy())
    directions = rays.numpy()[..., 3:]
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    shade = 0.3 + 0.7 * np.abs((hit["primitive_normals"].numpy() * directions).sum(-1))
    ids = np.where(found, hit["primitive_ids"].numpy(), 0).astype(np.int64)
    uv = hit["primitive_uvs"].numpy()
    colours = np.asarray(mesh.vertex_colors) if mesh.has_vertex_colors() else np.full((len(mesh.vertices), 3), 0.8)
    barycentric = np.stack([1.0 - uv[..., 0] - uv[..., 1], uv[..., 0], uv[..., 1]], axis=-1)
    colour = (colours[faces[ids]] * barycentric[..., None]).sum(-2) * shade[..., None]
    return np.where(found[..., None], np.clip(colour, 0, 1), 1.0)


def turntable_figure(
    path: str | os.PathLike[str],
    meshes: Mapping[str, o3d.geometry.TriangleMesh],
    K: F64,
    size: tuple[int, int],
    T_world_camera: F64,
    *,
    views: int,
    sweep_deg: float = 120.0,
) -> None:
    """One row per mesh: ``views`` shaded renders orbiting the mesh centre over ``sweep_deg`` degrees.

    The orbit starts from the reference camera ``T_world_camera`` (intrinsics ``K``, (width, height)
    ``size``) turned by -sweep/2 and ends at +sweep/2: a tissue surface is seen from its side only.
    """
    if not meshes or views < 1:
        raise EvaluationError(f"a turntable needs at least one mesh and one view, got {len(meshes)} and {views}")
    angles = list(np.linspace(-sweep_deg / 2, sweep_deg / 2, views)) if views > 1 else [0.0]
    width, height = size
    figure = Figure(figsize=(2.4 * views, 2.4 * height / width * len(meshes) + 0.6), dpi=100, layout="constrained")
    figure.suptitle(f"meshes turned about the camera's up axis ({-sweep_deg / 2:g} to {sweep_deg / 2:g} deg)")
    axes = figure.subplots(len(meshes), views, squeeze=False)
    for row, (name, mesh) in enumerate(meshes.items()):
        centre = np.asarray(mesh.get_axis_aligned_bounding_box().get_center())
        for column, pose in enumerate(orbit_poses(T_world_camera, centre, angles)):
            ax = axes[row, column]
            ax.imshow(shaded_render(mesh, K, size, pose))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name}, {angles[column]:+.0f} deg", fontsize=8)
    _save(figure, path)
