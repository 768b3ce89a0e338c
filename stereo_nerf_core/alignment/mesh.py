"""Triangle meshes for silhouette alignment: loading (PLY / OBJ via open3d), decimation and limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.alignment.errors import AlignmentError

MESH_SUFFIXES = (".ply", ".obj")
"""File types ``load_mesh`` reads."""


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh in its object frame (metres); only the surface's silhouette matters, not winding."""

    vertices: NDArray[np.float64]
    """(V, 3) vertex positions in metres."""
    faces: NDArray[np.int64]
    """(F, 3) vertex indices of each triangle."""

    def __post_init__(self) -> None:
        vertices = np.asarray(self.vertices, dtype=np.float64)
        faces = np.asarray(self.faces, dtype=np.int64)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
            raise AlignmentError(f"mesh needs vertices (V, 3) and faces (F, 3), got {vertices.shape}, {faces.shape}")
        if faces.shape[0] == 0:
            raise AlignmentError("mesh has no triangles")
        if faces.min() < 0 or faces.max() >= vertices.shape[0]:
            raise AlignmentError(f"mesh faces index vertices outside 0..{vertices.shape[0] - 1}")
        if not np.all(np.isfinite(vertices)):
            raise AlignmentError("mesh has non-finite vertex coordinates")
        object.__setattr__(self, "vertices", vertices)
        object.__setattr__(self, "faces", faces)

    @property
    def centre(self) -> NDArray[np.float64]:
        """(3,) centre of the vertices' bounding box."""
        return (self.vertices.min(0) + self.vertices.max(0)) / 2.0

    @property
    def radius(self) -> float:
        """Largest distance from ``centre`` to a vertex, in metres."""
        return float(np.linalg.norm(self.vertices - self.centre, axis=1).max())


def decimate(mesh: Mesh, *, max_triangles: int, triangle_limit: int, name: str = "mesh") -> Mesh:
    """``mesh`` with at most ``max_triangles`` triangles (open3d quadric decimation when it has more).

    Raises AlignmentError when even the decimated mesh has more than ``triangle_limit`` triangles.
    """
    if mesh.faces.shape[0] <= max_triangles:
        result = mesh
    else:
        legacy = o3d.geometry.TriangleMesh(
            o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(mesh.faces.astype(np.int32))
        )
        simplified = legacy.simplify_quadric_decimation(target_number_of_triangles=int(max_triangles))
        simplified.remove_unreferenced_vertices()
        if len(simplified.triangles) == 0:
            raise AlignmentError(f"{name}: decimation to {max_triangles} triangles left no triangles")
        result = Mesh(np.asarray(simplified.vertices), np.asarray(simplified.triangles))
    if result.faces.shape[0] > triangle_limit:
        raise AlignmentError(
            f"{name} has {result.faces.shape[0]} triangles after decimation towards {max_triangles}; "
            f"the limit is {triangle_limit} (soft rasterisation cost grows with the triangle count)"
        )
    return result


def load_mesh(path: str | Path, *, max_triangles: int = 800, triangle_limit: int = 3000) -> Mesh:
    """Read a PLY or OBJ triangle mesh and decimate it to at most ``max_triangles`` triangles.

    Raises AlignmentError naming the file when it is missing, not PLY/OBJ, unreadable, has no
    triangles, or still has more than ``triangle_limit`` triangles after decimation.
    """
    file = Path(path)
    if not file.is_file():
        raise AlignmentError(f"mesh file {file} does not exist")
    if file.suffix.lower() not in MESH_SUFFIXES:
        raise AlignmentError(f"mesh file {file} must be one of {', '.join(MESH_SUFFIXES)}, got '{file.suffix}'")
    try:
        legacy = o3d.io.read_triangle_mesh(str(file))
    except (RuntimeError, ValueError, UnicodeDecodeError) as error:
        raise AlignmentError(f"mesh file {file} is unreadable: {error}") from error
    if len(legacy.triangles) == 0:
        raise AlignmentError(
            f"mesh file {file} has no triangles (empty, unreadable, or a point cloud; read "
            f"{len(legacy.vertices)} vertices)"
        )
    try:
        mesh = Mesh(np.asarray(legacy.vertices), np.asarray(legacy.triangles))
    except AlignmentError as error:
        raise AlignmentError(f"mesh file {file}: {error}") from error
    return decimate(mesh, max_triangles=max_triangles, triangle_limit=triangle_limit, name=f"mesh file {file}")


def projected_extent(
    mesh: Mesh, T_camera_object: NDArray[np.float64], K: NDArray[np.float64], width: int, height: int
) -> str:
    """Where the mesh lands in an image, for messages: pixel extent, depth range and the image size."""
    points = mesh.vertices @ T_camera_object[:3, :3].T + T_camera_object[:3, 3]
    depth = points[:, 2]
    image = f"image 0..{width - 1} x 0..{height - 1} px"
    if not (depth > 0).any():
        return f"the mesh is behind the camera (depth {depth.min():.3g}..{depth.max():.3g} m; {image})"
    front = points[depth > 0]
    uv = front @ K.T
    uv = uv[:, :2] / uv[:, 2:]
    u, v = uv[:, 0], uv[:, 1]
    return (
        f"projected extent u {u.min():.0f}..{u.max():.0f}, v {v.min():.0f}..{v.max():.0f} px, "
        f"depth {depth.min():.3g}..{depth.max():.3g} m; {image}"
    )
