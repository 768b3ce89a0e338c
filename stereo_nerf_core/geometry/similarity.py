"""Similarity alignment of trajectories (Umeyama 1991 on positions; chordal mean of orientations for poses).

Poses are (N, 4, 4) ``T_world_camera`` matrices, metres; frame ``i`` of one corresponds to frame ``i`` of the
other. Used by the trajectory metrics (:mod:`stereo_nerf_core.eval.trajectory`) and to put an SfM
reconstruction on a metric reference (:mod:`stereo_nerf_core.frontend.sfm`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.geometry.errors import GeometryError

Float = NDArray[np.float64]


@dataclass(frozen=True)
class SimilarityTransform:
    """``x_reference = scale * rotation @ x_estimated + translation``."""

    scale: float
    rotation: Float
    """(3, 3)."""
    translation: Float
    """(3,)."""

    def apply_points(self, points: ArrayLike) -> Float:
        """Transformed points (N, 3)."""
        xyz = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        return self.scale * xyz @ self.rotation.T + self.translation

    def apply_poses(self, poses: ArrayLike) -> Float:
        """Transformed poses (N, 4, 4): rotations are rotated, positions transformed (scale on positions only)."""
        T = as_poses(poses, "poses")
        out = T.copy()
        out[:, :3, :3] = self.rotation @ T[:, :3, :3]
        out[:, :3, 3] = self.apply_points(T[:, :3, 3])
        return out

    def matrix(self) -> Float:
        """(4, 4) homogeneous matrix of the transform (top-left block is ``scale * rotation``)."""
        M = np.eye(4)
        M[:3, :3] = self.scale * self.rotation
        M[:3, 3] = self.translation
        return M


def as_poses(poses: ArrayLike, name: str) -> Float:
    """``poses`` as finite (N, 4, 4) float64 matrices; GeometryError naming ``name`` otherwise."""
    T = np.asarray(poses, dtype=np.float64)
    if T.ndim != 3 or T.shape[1:] != (4, 4):
        raise GeometryError(f"{name} must be (N, 4, 4) pose matrices, got shape {T.shape}")
    if not np.all(np.isfinite(T)):
        raise GeometryError(f"{name} has non-finite entries")
    return T


def as_positions(trajectory: ArrayLike, name: str) -> Float:
    """(N, 3) positions of (N, 3) points or (N, 4, 4) poses."""
    array = np.asarray(trajectory, dtype=np.float64)
    if array.ndim == 3:
        return as_poses(array, name)[:, :3, 3]
    if array.ndim != 2 or array.shape[1] != 3:
        raise GeometryError(f"{name} must be (N, 3) positions or (N, 4, 4) poses, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise GeometryError(f"{name} has non-finite entries")
    return array


def align_trajectory(estimated: ArrayLike, reference: ArrayLike, *, with_scale: bool) -> SimilarityTransform:
    """Least-squares transform taking ``estimated`` positions onto ``reference`` (Umeyama 1991).

    Both are (N, 3) positions or (N, 4, 4) poses (positions are used). Rigid (scale 1) unless
    ``with_scale``. Needs N >= 3 non-collinear positions for a unique rotation (N >= 1 works for a
    pure translation offset, N >= 2 for a scale); fewer raise :class:`GeometryError`.
    """
    source = as_positions(estimated, "estimated")
    target = as_positions(reference, "reference")
    if source.shape != target.shape:
        raise GeometryError(f"estimated and reference differ in length: {len(source)} vs {len(target)} frames")
    if len(source) == 0:
        raise GeometryError("cannot align empty trajectories (expected at least 1 frame)")
    mean_source, mean_target = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - mean_source, target - mean_target
    covariance = centred_target.T @ centred_source / len(source)
    U, singular, Vt = np.linalg.svd(covariance)
    sign = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        sign[2, 2] = -1.0
    rotation = U @ sign @ Vt
    scale = 1.0
    if with_scale:
        variance = float(np.mean(np.sum(centred_source**2, axis=1)))
        if variance <= 1e-24:
            raise GeometryError("cannot estimate a scale: the estimated positions do not move")
        scale = float(np.trace(np.diag(singular) @ sign) / variance)
    translation = mean_target - scale * rotation @ mean_source
    return SimilarityTransform(scale, rotation, translation)


def align_poses(estimated: ArrayLike, reference: ArrayLike, *, with_scale: bool) -> SimilarityTransform:
    """Transform taking ``estimated`` (N, 4, 4) poses onto ``reference`` using orientations as well as positions.

    The rotation is the chordal mean of ``R_reference_i @ R_estimated_i.T`` over all frames, so it
    stays determined when the positions are (nearly) collinear, as over a short endoscope stroke where
    position-only alignment (:func:`align_trajectory`) cannot fix the roll about the path; scale
    (``with_scale``) and translation are then the least-squares fit of the positions.
    """
    P = as_poses(estimated, "estimated")
    Q = as_poses(reference, "reference")
    if P.shape != Q.shape:
        raise GeometryError(f"estimated and reference differ in length: {len(P)} vs {len(Q)} frames")
    if len(P) == 0:
        raise GeometryError("cannot align empty trajectories (expected at least 1 frame)")
    U, _, Vt = np.linalg.svd(np.einsum("nij,nkj->ik", Q[:, :3, :3], P[:, :3, :3]))
    rotation = U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt
    source, target = P[:, :3, 3], Q[:, :3, 3]
    centred_source = source - source.mean(axis=0)
    centred_target = target - target.mean(axis=0)
    scale = 1.0
    if with_scale:
        variance = float(np.sum(centred_source**2))
        if variance <= 1e-24:
            raise GeometryError("cannot estimate a scale: the estimated positions do not move")
        scale = float(np.sum(centred_target * (centred_source @ rotation.T)) / variance)
    translation = target.mean(axis=0) - scale * rotation @ source.mean(axis=0)
    return SimilarityTransform(scale, rotation, translation)
