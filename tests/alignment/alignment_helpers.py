"""Cases of the silhouette-alignment tests: the asymmetric test object seen by small pinhole cameras."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.alignment import AlignmentView, Mesh
from stereo_nerf_core.alignment.synthetic import render_masks
from stereo_nerf_core.geometry import make_se3, rotation_about_axis


def intrinsics(size: int) -> NDArray[np.float64]:
    """K of a square ``size`` px image with a 56 degree field of view (f = 120 px at 128 px)."""
    f = 120.0 * size / 128.0
    c = (size - 1) / 2.0
    return np.array([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]])


def perturbed(
    T: NDArray[np.float64], centre: NDArray[np.float64], rng: np.random.Generator, *, degrees: float, fraction: float
) -> NDArray[np.float64]:
    """``T`` rotated by ``degrees`` about a random axis through ``centre`` and moved by ``fraction`` of its distance."""
    R = rotation_about_axis(rng.normal(size=3), np.radians(degrees)) @ T[:3, :3]
    position = T[:3, :3] @ centre + T[:3, 3]
    direction = rng.normal(size=3)
    moved = position + direction / np.linalg.norm(direction) * fraction * np.linalg.norm(position)
    return make_se3(R, moved - R @ centre)


@dataclass(frozen=True)
class Case:
    """A mesh, its true pose in the reference camera and a view factory."""

    mesh: Mesh
    T_true: NDArray[np.float64]
    size: int

    @property
    def K(self) -> NDArray[np.float64]:
        return intrinsics(self.size)

    def view(self, T_ref_view: NDArray[np.float64] | None = None, *, name: str = "view") -> AlignmentView:
        """The exact mask of the object seen from ``T_ref_view`` (identity: the reference camera)."""
        T_ref_view = np.eye(4) if T_ref_view is None else T_ref_view
        T_view_object = np.linalg.inv(T_ref_view) @ self.T_true
        mask = render_masks(self.mesh, T_view_object, self.K, self.size, self.size)
        return AlignmentView(mask, self.K, self.size, self.size, T_ref_view, name=name)


def make_case(mesh: Mesh, *, size: int = 128, distance_m: float = 0.07) -> Case:
    """The object at ``distance_m`` in front of the reference camera, turned so that all its parts show."""
    R = rotation_about_axis([0.3, 1.0, 0.2], 0.7)
    return Case(mesh, make_se3(R, np.array([0.002, -0.001, distance_m]) - R @ mesh.centre), size)
