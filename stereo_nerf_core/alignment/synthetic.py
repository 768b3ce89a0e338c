"""Synthetic cases for silhouette alignment: a non-symmetric test object and exact masks of it.

The test object is a lumpy ellipsoid (three unequal axes, two bumps at unrelated directions and a
shear) with a tilted cylindrical stalk, so no rotation or mirror maps it onto itself and its pose is
defined by its silhouettes. Masks are ray cast through pixel centres (``HardRasterizer``), independent
of the soft rasteriser that the optimisation uses.
"""

from __future__ import annotations

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.alignment.hard_raster import HardRasterizer
from stereo_nerf_core.alignment.mesh import Mesh


def _bump(directions: NDArray[np.float64], centre: list[float], width: float) -> NDArray[np.float64]:
    c = np.asarray(centre) / np.linalg.norm(centre)
    return np.exp(-np.sum((directions - c) ** 2, axis=1) / width)


def asymmetric_test_mesh(*, size_m: float = 0.03, subdivisions: int = 2, stalk_segments: int = 8) -> Mesh:
    """The test object, about ``size_m`` long, centred near its own origin.

    ``subdivisions`` midpoint subdivisions of an icosahedron make the body (20 * 4**s triangles: 320 for
    2), the stalk adds ``4 * stalk_segments`` triangles.
    """
    body = o3d.geometry.TriangleMesh.create_icosahedron(1.0).subdivide_midpoint(subdivisions)
    unit = np.asarray(body.vertices)
    unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
    radius = 1.0 + 0.45 * _bump(unit, [0.6, -0.7, 0.4], 0.25) + 0.3 * _bump(unit, [-0.5, 0.2, 0.85], 0.15)
    points = unit * radius[:, None] * np.array([1.0, 0.62, 0.45])
    points[:, 0] += 0.3 * points[:, 1] ** 2 - 0.15 * points[:, 2]
    body.vertices = o3d.utility.Vector3dVector(points * (size_m / 2.4))
    stalk = o3d.geometry.TriangleMesh.create_cylinder(0.08 * size_m, 0.45 * size_m, stalk_segments, 1)
    axis = np.array([-0.35, 0.55, -0.75])
    axis /= np.linalg.norm(axis)
    stalk.rotate(_rotation_z_to(axis), center=np.zeros(3))
    stalk.translate(np.array([-0.28, 0.05, 0.0]) * size_m + axis * 0.2 * size_m)
    merged = body + stalk
    return Mesh(np.asarray(merged.vertices, dtype=np.float64), np.asarray(merged.triangles, dtype=np.int64))


def _rotation_z_to(axis: NDArray[np.float64]) -> NDArray[np.float64]:
    """A rotation (3, 3) taking +z to the unit vector ``axis``."""
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(z, axis)
    c = float(z @ axis)
    skew = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + skew + skew @ skew / (1.0 + c)


def render_masks(
    mesh: Mesh,
    T_camera_object: NDArray[np.float64],
    K: NDArray[np.float64],
    width: int,
    height: int,
    *,
    supersample: int = 1,
) -> NDArray[np.bool_]:
    """Exact binary mask (height, width) of ``mesh`` at pose ``T_camera_object`` (4, 4), intrinsics ``K``.

    ``supersample > 1`` casts ``supersample**2`` rays per pixel and keeps pixels more than half covered.
    """
    rasterizer = HardRasterizer(mesh)
    if supersample <= 1:
        return rasterizer.render(T_camera_object[None], K, width, height)[0]
    scale = float(supersample)
    K_fine = np.asarray(K, dtype=np.float64).copy()
    K_fine[:2] *= scale
    K_fine[:2, 2] += (scale - 1.0) / 2.0
    fine = rasterizer.render(T_camera_object[None], K_fine, width * supersample, height * supersample)[0]
    coverage = fine.reshape(height, supersample, width, supersample).mean(axis=(1, 3))
    return np.asarray(coverage > 0.5)
