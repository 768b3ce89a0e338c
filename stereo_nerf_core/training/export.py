"""Outputs of a trained model: rendered depth and colour images, point clouds, meshes and refined poses.

* Images: :meth:`Trainer.render` / :meth:`Trainer.render_keyframe` give depth (Z, metres) and colour
  for any pose; :func:`write_view` stores them as a 16-bit depth PNG (millimetres, 0 = none) and an
  8-bit colour PNG.
* Point clouds: :func:`cloud_from_renders` back-projects rendered keyframe depths where the rendered
  opacity reaches ``min_opacity``; :func:`cloud_from_sdf` takes the grid points within half a cell of
  the SDF zero level and projects them onto it (``x - sdf * grad / |grad|^2``).
* Meshes: :func:`extract_mesh` runs marching cubes (scikit-image) on the field sampled at
  ``resolution`` cells along the longest side of the scene box: the SDF at ``level`` 0, or the NeRF
  density at ``level`` (default ``ln 2 / cell``: a cell-thick layer at that density is half opaque).
  Vertex colours are the field's colour at the vertex seen from the mean keyframe camera centre.
* Poses: :func:`pose_report` lists refined poses, with errors against ground truth when given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from skimage.measure import marching_cubes

from stereo_nerf_core.models.base import Model
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.poses import pose_error
from stereo_nerf_core.training.trainer import RenderedView, Trainer
from stereo_nerf_core.training.views import world_points

if TYPE_CHECKING:
    import open3d as o3d

Float = NDArray[np.float64]


def write_view(view: RenderedView, directory: Path | str, name: str) -> tuple[Path, Path]:
    """``name_depth.png`` (uint16 mm, 0 where transparent) and ``name_rgb.png`` in ``directory``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    depth_path, rgb_path = folder / f"{name}_depth.png", folder / f"{name}_rgb.png"
    millimetres = np.where(np.isfinite(view.depth) & (view.depth > 0), np.rint(view.depth * 1000.0), 0)
    colour = np.clip(np.rint(view.rgb * 255.0), 0, 255).astype(np.uint8)
    ok = cv2.imwrite(str(depth_path), np.clip(millimetres, 0, 65535).astype(np.uint16))
    if not (ok and cv2.imwrite(str(rgb_path), cv2.cvtColor(colour, cv2.COLOR_RGB2BGR))):
        raise TrainingError(f"cannot write {depth_path} / {rgb_path}")
    return depth_path, rgb_path


def cloud_from_renders(
    trainer: Trainer, keyframes: Sequence[TrainingKeyframe], *, min_opacity: float = 0.9, guided: bool = True
) -> o3d.geometry.PointCloud:
    """World points of the keyframes' rendered depths (opacity >= ``min_opacity``), coloured by the renders."""
    poses = trainer.refined_poses()
    points, colours = [], []
    for keyframe in keyframes:
        view = trainer.render_keyframe(keyframe, guided=guided)
        T = poses.get(keyframe.index, keyframe.T_world_camera)
        world, colour = world_points(view, keyframe.K, T, min_opacity=min_opacity)
        points.append(world)
        colours.append(colour.astype(np.float64))
    return _cloud(np.concatenate(points) if points else np.zeros((0, 3)), np.concatenate(colours) if colours else None)


def cloud_from_sdf(trainer: Trainer, *, resolution: int = 128) -> o3d.geometry.PointCloud:
    """Points on the SDF zero level (grid points within half a cell, projected onto it), coloured by the field."""
    model, bounds = _model(trainer)
    if model.geometry != "sdf":
        raise TrainingError("cloud_from_sdf needs an sdf-mode trainer")
    grid, cell, _ = _grid_points(bounds[0], bounds[1], resolution)
    device = trainer.device
    kept = []
    with trainer.lock:
        model.eval()
        for chunk in torch.split(torch.from_numpy(grid.astype(np.float32)), trainer.config.render_chunk * 8):
            with torch.no_grad():
                sdf = model.geometry_at(chunk.to(device)).float()
            near = chunk[(sdf.abs() < 0.5 * cell).cpu()]
            if len(near):
                with torch.enable_grad():
                    x = near.to(device).requires_grad_(True)
                    value = model.geometry_at(x).float()
                    (gradient,) = torch.autograd.grad(value.sum(), x)
                step = value.detach()[:, None] * gradient / (gradient**2).sum(1, keepdim=True).clamp_min(1e-12)
                kept.append((x.detach() - step).cpu().numpy().astype(np.float64))
    points = np.concatenate(kept) if kept else np.zeros((0, 3))
    return _cloud(points, field_colours(trainer, points))


def extract_mesh(trainer: Trainer, *, resolution: int = 128, level: float | None = None) -> o3d.geometry.TriangleMesh:
    """Marching-cubes mesh of the field over the scene box, with vertex colours (module docstring)."""
    import open3d as o3d  # here, not at import: 3.6 s (open3d.ml pulls in sklearn and pandas)
    model, (low, high) = _model(trainer)
    if resolution < 8:
        raise TrainingError(f"mesh resolution must be >= 8 cells, got {resolution}")
    grid, cell, shape = _grid_points(low, high, resolution)
    values = _evaluate(trainer, model, grid).reshape(shape)
    sdf = model.geometry == "sdf"
    threshold = 0.0 if sdf else (math.log(2.0) / cell if level is None else level)
    if sdf and level is not None:
        threshold = level
    if not values.min() < threshold < values.max():
        raise TrainingError(f"the field does not cross level {threshold:g} inside the scene box: no surface yet")
    vertices, faces, _, _ = marching_cubes(
        values, level=threshold, spacing=(cell, cell, cell), gradient_direction="descent" if sdf else "ascent"
    )
    vertices = vertices.astype(np.float64) + low
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices), o3d.utility.Vector3iVector(faces))
    mesh.vertex_colors = o3d.utility.Vector3dVector(field_colours(trainer, vertices))
    mesh.compute_vertex_normals()
    return mesh


def seen_by_keyframes(mesh: o3d.geometry.TriangleMesh, trainer: Trainer) -> o3d.geometry.TriangleMesh:
    """The part of ``mesh`` that some buffered keyframe camera sees first (ray-cast at its refined pose).

    Marching cubes over the whole scene box also meshes what no camera constrains (behind the
    tissue, the box's margins); this keeps the observed surface, as the TSDF fusion does.
    """
    import open3d as o3d  # here, not at import: 3.6 s (open3d.ml pulls in sklearn and pandas)
    keyframes = trainer.buffer.snapshot()
    if not keyframes or len(mesh.triangles) == 0:
        return mesh
    poses = trainer.refined_poses()
    from stereo_nerf_core.fusion.tsdf import MeshRaycaster  # open3d: see above

    raycaster = MeshRaycaster(mesh)
    seen = np.zeros(len(mesh.triangles), bool)
    for keyframe in keyframes:
        pose = poses.get(keyframe.index, keyframe.T_world_camera)
        _, ids = raycaster.cast(keyframe.K, (keyframe.width, keyframe.height), pose)
        seen[ids[ids >= 0]] = True
    culled = o3d.geometry.TriangleMesh(mesh)
    culled.remove_triangles_by_mask(~seen)
    culled.remove_unreferenced_vertices()
    return culled


def field_colours(trainer: Trainer, points: Float) -> Float:
    """Colours (N, 3) of the field at world ``points`` (N, 3) seen from the mean keyframe camera centre."""
    model, _ = _model(trainer)
    if len(points) == 0:
        return np.zeros((0, 3))
    centres = np.array([k.T_world_camera[:3, 3] for k in trainer.buffer.snapshot()])
    eye = centres.mean(axis=0) if len(centres) else np.zeros(3)
    directions = points - eye
    directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-12)
    colours = []
    step = trainer.config.render_chunk * 4
    for start in range(0, len(points), step):
        with trainer.background_turn(), torch.set_grad_enabled(model.geometry == "sdf"):
            model.eval()
            x = torch.from_numpy(points[start : start + step].astype(np.float32)).to(trainer.device)
            d = torch.from_numpy(directions[start : start + step].astype(np.float32)).to(trainer.device)
            colours.append(model.colour_at(x, d).detach().float().cpu().numpy())
    return np.clip(np.concatenate(colours), 0.0, 1.0).astype(np.float64)


def write_mesh(mesh: o3d.geometry.TriangleMesh, path: Path | str) -> Path:
    """Binary PLY of a mesh (vertex colours and normals included)."""
    import open3d as o3d  # here, not at import: 3.6 s (open3d.ml pulls in sklearn and pandas)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not o3d.io.write_triangle_mesh(str(target), mesh, write_ascii=False):
        raise TrainingError(f"cannot write mesh {target}")
    return target


def write_cloud(cloud: o3d.geometry.PointCloud, path: Path | str) -> Path:
    """Binary PLY of a point cloud."""
    import open3d as o3d  # here, not at import: 3.6 s (open3d.ml pulls in sklearn and pandas)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not o3d.io.write_point_cloud(str(target), cloud, write_ascii=False):
        raise TrainingError(f"cannot write point cloud {target}")
    return target


def pose_report(trainer: Trainer, truth: Mapping[int, Float] | None = None) -> dict[int, dict[str, Any]]:
    """Per buffered keyframe: refined ``T_world_camera`` and, with ``truth``, its error before and after."""
    given = {k.index: k.T_world_camera for k in trainer.buffer.snapshot()}
    report: dict[int, dict[str, Any]] = {}
    for index, refined in trainer.refined_poses().items():
        entry: dict[str, Any] = {"T_world_camera": refined.tolist()}
        if truth is not None and index in truth:
            before, after = pose_error(given[index], truth[index]), pose_error(refined, truth[index])
            entry.update(
                given_translation_error_m=before.translation_m,
                given_rotation_error_deg=before.rotation_deg,
                translation_error_m=after.translation_m,
                rotation_error_deg=after.rotation_deg,
            )
        report[index] = entry
    return report


def write_pose_report(report: Mapping[int, Mapping[str, Any]], path: Path | str) -> Path:
    """The :func:`pose_report` as JSON."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({str(k): v for k, v in report.items()}, indent=2) + "\n")
    return target


def _model(trainer: Trainer) -> tuple[Model, tuple[Float, Float]]:
    if trainer.model is None or trainer.bounds is None:
        raise TrainingError("the model is not built yet: train at least one step")
    return trainer.model, (trainer.bounds.minimum, trainer.bounds.maximum)


def _grid_points(low: Float, high: Float, resolution: int) -> tuple[Float, float, tuple[int, int, int]]:
    """(grid points (N, 3) in x-major order, cell size, grid shape) covering the box."""
    cell = float((high - low).max()) / resolution
    nx, ny, nz = (round(float(high[i] - low[i]) / cell) + 1 for i in range(3))
    x, y, z = np.meshgrid(*(low[i] + cell * np.arange(n) for i, n in enumerate((nx, ny, nz))), indexing="ij")
    return np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1), cell, (nx, ny, nz)


def _evaluate(trainer: Trainer, model: Model, points: Float) -> NDArray[np.float32]:
    values = []
    for chunk in torch.split(torch.from_numpy(points.astype(np.float32)), trainer.config.render_chunk * 8):
        with trainer.background_turn(), torch.no_grad():  # chunk by chunk: renders may come in between
            model.eval()
            x = chunk.to(trainer.device)
            value = model.geometry_at(x)
            values.append(value.float().cpu().numpy())
    return np.concatenate(values)


def _cloud(points: Float, colours: Float | None) -> o3d.geometry.PointCloud:
    import open3d as o3d  # here, not at import: 3.6 s (open3d.ml pulls in sklearn and pandas)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    if colours is not None and len(colours) == len(points):
        cloud.colors = o3d.utility.Vector3dVector(colours)
    return cloud
