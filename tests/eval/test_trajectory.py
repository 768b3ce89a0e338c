"""Trajectory metrics on hand-made trajectories with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.trajectory import (
    absolute_trajectory_error,
    relative_pose_error,
)
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.similarity import align_poses, align_trajectory
from stereo_nerf_core.geometry.transforms import make_se3, rotation_about_axis


def _trajectory(n: int = 12) -> np.ndarray:
    """A curved camera path (metres) with turning cameras."""
    poses = []
    for i in range(n):
        R = rotation_about_axis([0.2, 1.0, 0.1], np.deg2rad(0.8 * i))
        poses.append(make_se3(R, [0.002 * i, 0.0005 * i**1.5, 0.001 * np.sin(i / 3)]))
    return np.stack(poses)


def test_a_rigid_offset_gives_zero_ate_after_alignment() -> None:
    reference = _trajectory()
    offset = make_se3(rotation_about_axis([1, 2, 3], 0.7), [0.05, -0.02, 0.3])
    estimated = np.stack([offset @ T for T in reference])
    ate = absolute_trajectory_error(estimated, reference)
    assert ate.rmse_m < 1e-12 and ate.alignment.scale == 1.0
    np.testing.assert_allclose(ate.alignment.matrix(), np.linalg.inv(offset), atol=1e-10)
    unaligned = absolute_trajectory_error(estimated, reference, align=False)
    assert unaligned.rmse_m > 0.1


def test_a_similarity_needs_the_scale() -> None:
    reference = _trajectory()
    estimated = reference.copy()
    R = rotation_about_axis([0, 0, 1], 0.3)
    estimated[:, :3, 3] = 2.5 * reference[:, :3, 3] @ R.T + [1.0, 2.0, 3.0]
    scaled = absolute_trajectory_error(estimated, reference, with_scale=True)
    assert scaled.rmse_m < 1e-12 and scaled.alignment.scale == pytest.approx(1 / 2.5)
    assert scaled.with_scale and scaled.as_dict()["scale"] == pytest.approx(0.4)
    assert absolute_trajectory_error(estimated, reference).rmse_m > 1e-3
    transform = align_trajectory(estimated, reference, with_scale=True)
    np.testing.assert_allclose(transform.apply_poses(estimated)[:, :3, 3], reference[:, :3, 3], atol=1e-12)


def test_pose_alignment_fixes_the_roll_that_a_straight_path_leaves_free() -> None:
    reference = np.stack([make_se3(rotation_about_axis([0, 1, 0], np.deg2rad(i)), [0.002 * i, 0, 0]) for i in range(8)])
    offset = make_se3(rotation_about_axis([1, 0.2, 0], 0.5), [0.01, 0.02, -0.03])
    estimated = np.stack([offset @ T for T in reference])
    estimated[:, :3, 3] *= 3.0  # and an arbitrary SfM scale
    transform = align_poses(estimated, reference, with_scale=True)
    aligned = transform.apply_poses(estimated)
    np.testing.assert_allclose(aligned, reference, atol=1e-12)
    assert transform.scale == pytest.approx(1 / 3)
    # positions alone are collinear: they fit as well, but the roll about the path is left undetermined
    positions_only = align_trajectory(estimated, reference, with_scale=True).apply_poses(estimated)
    np.testing.assert_allclose(positions_only[:, :3, 3], reference[:, :3, 3], atol=1e-9)


def test_known_noise_gives_a_known_rmse() -> None:
    # planar zig-zag in x-y; +-1 mm along z in the pattern + - - + (zero mean, uncorrelated with x and y),
    # so the best rigid alignment is the identity and the RMSE is exactly 1 mm
    n = 16
    zigzag = np.tile([1.0, 1.0, -1.0, -1.0], n // 4)
    reference = np.stack([make_se3(np.eye(3), [0.01 * i, 0.01 * zigzag[i], 0]) for i in range(n)])
    signs = np.tile([1.0, -1.0, -1.0, 1.0], n // 4)
    estimated = reference.copy()
    estimated[:, 2, 3] += 0.001 * signs
    ate = absolute_trajectory_error(estimated, reference)
    assert ate.rmse_m == pytest.approx(0.001, rel=1e-9)
    assert ate.max_m == pytest.approx(0.001, rel=1e-9) and ate.median_m == pytest.approx(0.001, rel=1e-9)
    np.testing.assert_allclose(ate.alignment.rotation, np.eye(3), atol=1e-12)
    # 3-4-5 errors: half the frames 3 mm, half 4 mm off (no alignment) -> RMSE sqrt((9 + 16) / 2) mm
    estimated = reference.copy()
    estimated[:, 1, 3] += np.where(np.arange(n) % 2 == 0, 0.003, 0.004)
    assert absolute_trajectory_error(estimated, reference, align=False).rmse_m == pytest.approx(
        np.sqrt(12.5) * 1e-3, rel=1e-9
    )


def test_relative_pose_error_per_step() -> None:
    n = 10
    step = 0.001
    reference = np.stack([make_se3(np.eye(3), [step * i, 0, 0]) for i in range(n)])
    # every estimated step is 10 % too long and turned by an extra 0.5 deg about z
    estimated = [np.eye(4)]
    extra = make_se3(rotation_about_axis([0, 0, 1], np.deg2rad(0.5)), [1.1 * step, 0, 0])
    for _ in range(n - 1):
        estimated.append(estimated[-1] @ extra)
    rpe = relative_pose_error(np.stack(estimated), reference)
    assert rpe.translation_rmse_m == pytest.approx(0.1 * step, rel=1e-9)
    assert rpe.rotation_rmse_deg == pytest.approx(0.5, rel=1e-6)
    assert rpe.translation_errors_m.shape == (n - 1,) and rpe.as_dict()["delta"] == 1
    two = relative_pose_error(np.stack(estimated), reference, delta=2)
    assert two.rotation_rmse_deg == pytest.approx(1.0, rel=1e-6) and two.translation_errors_m.shape == (n - 2,)


def test_malformed_trajectories_raise() -> None:
    reference = _trajectory(5)
    with pytest.raises(EvaluationError, match="differ in length"):
        absolute_trajectory_error(reference[:4], reference)
    with pytest.raises(EvaluationError, match=r"\(N, 3\) positions or \(N, 4, 4\) poses"):
        absolute_trajectory_error(np.zeros((5, 2)), reference)
    with pytest.raises(GeometryError, match="do not move"):
        align_trajectory(np.zeros((5, 3)), reference, with_scale=True)
    with pytest.raises(GeometryError, match="empty"):
        align_trajectory(np.zeros((0, 3)), np.zeros((0, 3)), with_scale=False)
    with pytest.raises(EvaluationError, match="do not move"):
        absolute_trajectory_error(np.zeros((5, 3)), reference, with_scale=True)
    with pytest.raises(EvaluationError, match="delta must be >= 1"):
        relative_pose_error(reference, reference, delta=0)
    with pytest.raises(EvaluationError, match=r"\(N, 4, 4\)"):
        relative_pose_error(reference[:, :3], reference)
