"""Trajectory metrics: absolute trajectory error and relative pose error (alignment: geometry.similarity).

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
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.similarity import SimilarityTransform, align_trajectory, as_poses, as_positions
from stereo_nerf_core.geometry.transforms import rotation_angle_deg

Float = NDArray[np.float64]




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
    try:
        return as_poses(poses, name)
    except GeometryError as error:
        raise EvaluationError(str(error)) from error


def _positions(trajectory: ArrayLike, name: str) -> Float:
    try:
        return as_positions(trajectory, name)
    except GeometryError as error:
        raise EvaluationError(str(error)) from error






def absolute_trajectory_error(
    estimated: ArrayLike, reference: ArrayLike, *, with_scale: bool = False, align: bool = True
) -> AbsoluteTrajectoryError:
    """Position RMSE (and mean, median, max) of ``estimated`` against ``reference`` after alignment.

    Default: rigid alignment (metric trajectories such as stereo odometry); ``with_scale`` adds a
    similarity scale (SfM); ``align=False`` compares the positions as given.
    """
    source = _positions(estimated, "estimated")
    target = _positions(reference, "reference")
    if source.shape != target.shape:
        raise EvaluationError(f"estimated and reference differ in length: {len(source)} vs {len(target)} frames")
    if len(source) == 0:
        raise EvaluationError("cannot score empty trajectories (expected at least 1 frame)")
    if align:
        try:
            alignment = align_trajectory(source, target, with_scale=with_scale)
        except GeometryError as error:
            raise EvaluationError(str(error)) from error
    else:
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
