"""Trajectory metrics: alignment (Umeyama), absolute trajectory error and relative pose error.

Poses are (N, 4, 4) ``T_world_camera`` matrices, metres; frame ``i`` of the estimate corresponds to
frame ``i`` of the reference. Stereo odometry is metric, so the default alignment is rigid
("metric alignment": rotation and translation, no scale); monocular or SfM trajectories are
compared after a similarity alignment (``with_scale=True``), which the results then name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.eval.errors import EvaluationError

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
        T = _poses(poses, "poses")
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


@dataclass(frozen=True)
class AbsoluteTrajectoryError:
    """ATE of the camera positions after alignment."""

    rmse_m: float
    mean_m: float
    median_m: float
    max_m: float
    with_scale: bool
    """Whether the alignment had a scale (then the errors are in the reference's units after scaling)."""
    alignment: SimilarityTransform
    errors_m: Float
    """(N,) per-frame position error after alignment."""

    def as_dict(self) -> dict[str, float | bool]:
        """JSON-friendly summary (no per-frame errors)."""
        return {
            "rmse_m": self.rmse_m,
            "mean_m": self.mean_m,
            "median_m": self.median_m,
            "max_m": self.max_m,
            "with_scale": self.with_scale,
            "scale": self.alignment.scale,
        }


@dataclass(frozen=True)
class RelativePoseError:
    """RPE over frame steps of ``delta`` frames (no alignment needed)."""

    translation_rmse_m: float
    rotation_rmse_deg: float
    translation_errors_m: Float
    """(N - delta,) translation error of each step."""
    rotation_errors_deg: Float
    """(N - delta,) rotation error of each step."""
    delta: int

    def as_dict(self) -> dict[str, float | int]:
        """JSON-friendly summary."""
        return {
            "translation_rmse_m": self.translation_rmse_m,
            "rotation_rmse_deg": self.rotation_rmse_deg,
            "translation_mean_m": float(np.mean(self.translation_errors_m)) if self.translation_errors_m.size else 0.0,
            "rotation_mean_deg": float(np.mean(self.rotation_errors_deg)) if self.rotation_errors_deg.size else 0.0,
            "delta": self.delta,
        }


def _poses(poses: ArrayLike, name: str) -> Float:
    T = np.asarray(poses, dtype=np.float64)
    if T.ndim != 3 or T.shape[1:] != (4, 4):
        raise EvaluationError(f"{name} must be (N, 4, 4) pose matrices, got shape {T.shape}")
    if not np.all(np.isfinite(T)):
        raise EvaluationError(f"{name} has non-finite entries")
    return T


def _positions(trajectory: ArrayLike, name: str) -> Float:
    """(N, 3) positions of (N, 3) points or (N, 4, 4) poses."""
    array = np.asarray(trajectory, dtype=np.float64)
    if array.ndim == 3:
        return _poses(array, name)[:, :3, 3]
    if array.ndim != 2 or array.shape[1] != 3:
        raise EvaluationError(f"{name} must be (N, 3) positions or (N, 4, 4) poses, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise EvaluationError(f"{name} has non-finite entries")
    return array


def align_trajectory(estimated: ArrayLike, reference: ArrayLike, *, with_scale: bool) -> SimilarityTransform:
    """Least-squares transform taking ``estimated`` positions onto ``reference`` (Umeyama 1991).

    Both are (N, 3) positions or (N, 4, 4) poses (positions are used). Rigid (scale 1) unless
    ``with_scale``. Needs N >= 3 non-collinear positions for a unique rotation (N >= 1 works for a
    pure translation offset, N >= 2 for a scale); fewer raise :class:`EvaluationError`.
    """
    source = _positions(estimated, "estimated")
    target = _positions(reference, "reference")
    if source.shape != target.shape:
        raise EvaluationError(f"estimated and reference differ in length: {len(source)} vs {len(target)} frames")
    if len(source) == 0:
        raise EvaluationError("cannot align empty trajectories (expected at least 1 frame)")
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
            raise EvaluationError("cannot estimate a scale: the estimated positions do not move")
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
    P = _poses(estimated, "estimated")
    Q = _poses(reference, "reference")
    if P.shape != Q.shape:
        raise EvaluationError(f"estimated and reference differ in length: {len(P)} vs {len(Q)} frames")
    if len(P) == 0:
        raise EvaluationError("cannot align empty trajectories (expected at least 1 frame)")
    U, _, Vt = np.linalg.svd(np.einsum("nij,nkj->ik", Q[:, :3, :3], P[:, :3, :3]))
    rotation = U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))]) @ Vt
    source, target = P[:, :3, 3], Q[:, :3, 3]
    centred_source = source - source.mean(axis=0)
    centred_target = target - target.mean(axis=0)
    scale = 1.0
    if with_scale:
        variance = float(np.sum(centred_source**2))
        if variance <= 1e-24:
            raise EvaluationError("cannot estimate a scale: the estimated positions do not move")
        scale = float(np.sum(centred_target * (centred_source @ rotation.T)) / variance)
    translation = target.mean(axis=0) - scale * rotation @ source.mean(axis=0)
    return SimilarityTransform(scale, rotation, translation)


def absolute_trajectory_error(
    estimated: ArrayLike, reference: ArrayLike, *, with_scale: bool = False, align: bool = True
) -> AbsoluteTrajectoryError:
    """Position RMSE (and mean, median, max) of ``estimated`` against ``reference`` after alignment.

    Default: rigid alignment (metric trajectories such as stereo odometry); ``with_scale`` adds a
    similarity scale (SfM); ``align=False`` compares the positions as given.
    """
    source = _positions(estimated, "estimated")
    target = _positions(reference, "reference")
    if align:
        alignment = align_trajectory(source, target, with_scale=with_scale)
    else:
        if source.shape != target.shape:
            raise EvaluationError(f"estimated and reference differ in length: {len(source)} vs {len(target)} frames")
        if len(source) == 0:
            raise EvaluationError("cannot score empty trajectories (expected at least 1 frame)")
        alignment = SimilarityTransform(1.0, np.eye(3), np.zeros(3))
    errors = np.linalg.norm(alignment.apply_points(source) - target, axis=1)
    return AbsoluteTrajectoryError(
        rmse_m=float(np.sqrt(np.mean(errors**2))),
        mean_m=float(np.mean(errors)),
        median_m=float(np.median(errors)),
        max_m=float(np.max(errors)),
        with_scale=with_scale and align,
        alignment=alignment,
        errors_m=errors,
    )


def rotation_angle_deg(R: ArrayLike) -> float:
    """Angle in degrees of a (3, 3) rotation."""
    M = np.asarray(R, dtype=np.float64)
    return float(np.degrees(np.arccos(np.clip((np.trace(M) - 1.0) / 2.0, -1.0, 1.0))))


def relative_pose_error(estimated: ArrayLike, reference: ArrayLike, *, delta: int = 1) -> RelativePoseError:
    """Translation and rotation error of the motion over every step of ``delta`` frames (TUM RPE).

    For each i: ``E = inv(inv(Q_i) Q_{i+delta}) @ inv(P_i) P_{i+delta}`` with reference ``Q`` and
    estimate ``P`` (both (N, 4, 4)); the errors are ``|t(E)|`` and the angle of ``R(E)``.
    """
    P = _poses(estimated, "estimated")
    Q = _poses(reference, "reference")
    if P.shape != Q.shape:
        raise EvaluationError(f"estimated and reference differ in length: {len(P)} vs {len(Q)} frames")
    if delta < 1:
        raise EvaluationError(f"delta must be >= 1 frame, got {delta}")
    translation, rotation = [], []
    for i in range(len(P) - delta):
        motion_estimated = np.linalg.inv(P[i]) @ P[i + delta]
        motion_reference = np.linalg.inv(Q[i]) @ Q[i + delta]
        error = np.linalg.inv(motion_reference) @ motion_estimated
        translation.append(float(np.linalg.norm(error[:3, 3])))
        rotation.append(rotation_angle_deg(error[:3, :3]))
    t = np.asarray(translation, dtype=np.float64)
    r = np.asarray(rotation, dtype=np.float64)
    return RelativePoseError(
        translation_rmse_m=float(np.sqrt(np.mean(t**2))) if t.size else 0.0,
        rotation_rmse_deg=float(np.sqrt(np.mean(r**2))) if r.size else 0.0,
        translation_errors_m=t,
        rotation_errors_deg=r,
        delta=delta,
    )
