"""Rigid transforms as 4x4 numpy matrices and quaternions in ROS order (x, y, z, w).

``T_a_b`` maps points from frame ``b`` into frame ``a``: ``p_a = T_a_b @ p_b``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.geometry.errors import GeometryError

Float = NDArray[np.float64]


def make_se3(rotation: ArrayLike, translation: ArrayLike) -> Float:
    """Build a (4, 4) transform from a (3, 3) rotation and a (3,) translation."""
    R = np.asarray(rotation, dtype=np.float64)
    t = np.asarray(translation, dtype=np.float64).reshape(-1)
    if R.shape != (3, 3) or t.shape != (3,):
        raise GeometryError(f"make_se3 expects rotation (3, 3) and translation (3,), got {R.shape}, {t.shape}")
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


def invert_se3(T: ArrayLike) -> Float:
    """Inverse of a (4, 4) rigid transform, using the rotation's transpose."""
    M = np.asarray(T, dtype=np.float64)
    if M.shape != (4, 4):
        raise GeometryError(f"invert_se3 expects a (4, 4) matrix, got {M.shape}")
    R = M[:3, :3]
    return make_se3(R.T, -R.T @ M[:3, 3])


def rotation_about_axis(axis: ArrayLike, angle_rad: float) -> Float:
    """(3, 3) rotation of ``angle_rad`` about ``axis`` (Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64).reshape(3)
    norm = np.linalg.norm(a)
    if norm == 0.0:
        raise GeometryError("rotation axis must be non-zero")
    k = a / norm
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle_rad) * K + (1.0 - np.cos(angle_rad)) * (K @ K)


def rotation_angle_deg(R: ArrayLike) -> float:
    """Angle in degrees of a (3, 3) rotation (of ``R_a.T @ R_b`` for the angle between two rotations)."""
    M = np.asarray(R, dtype=np.float64)
    return float(np.degrees(np.arccos(np.clip((np.trace(M) - 1.0) / 2.0, -1.0, 1.0))))


def quaternion_to_matrix(q_xyzw: ArrayLike) -> Float:
    """(3, 3) rotation from a quaternion (x, y, z, w); the quaternion is normalised first."""
    q = np.asarray(q_xyzw, dtype=np.float64).reshape(-1)
    if q.shape != (4,):
        raise GeometryError(f"quaternion must have 4 components (x, y, z, w), got {q.shape}")
    n = np.linalg.norm(q)
    if not np.isfinite(n) or n < 1e-12:
        raise GeometryError(f"quaternion {q.tolist()} has no direction")
    x, y, z, w = q / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def matrix_to_quaternion(R: ArrayLike) -> Float:
    """Quaternion (x, y, z, w) with w >= 0 of a (3, 3) rotation (Shepperd's method)."""
    M = np.asarray(R, dtype=np.float64)
    if M.shape != (3, 3):
        raise GeometryError(f"rotation must be (3, 3), got {M.shape}")
    trace = np.trace(M)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = np.array([(M[2, 1] - M[1, 2]) / s, (M[0, 2] - M[2, 0]) / s, (M[1, 0] - M[0, 1]) / s, s / 4])
    elif M[0, 0] > M[1, 1] and M[0, 0] > M[2, 2]:
        s = 2.0 * np.sqrt(1.0 + M[0, 0] - M[1, 1] - M[2, 2])
        q = np.array([s / 4, (M[0, 1] + M[1, 0]) / s, (M[0, 2] + M[2, 0]) / s, (M[2, 1] - M[1, 2]) / s])
    elif M[1, 1] > M[2, 2]:
        s = 2.0 * np.sqrt(1.0 + M[1, 1] - M[0, 0] - M[2, 2])
        q = np.array([(M[0, 1] + M[1, 0]) / s, s / 4, (M[1, 2] + M[2, 1]) / s, (M[0, 2] - M[2, 0]) / s])
    else:
        s = 2.0 * np.sqrt(1.0 + M[2, 2] - M[0, 0] - M[1, 1])
        q = np.array([(M[0, 2] + M[2, 0]) / s, (M[1, 2] + M[2, 1]) / s, s / 4, (M[1, 0] - M[0, 1]) / s])
    q /= np.linalg.norm(q)
    return q if q[3] >= 0 else -q


def slerp_quaternion(q0: ArrayLike, q1: ArrayLike, fraction: float) -> Float:
    """Unit quaternion (x, y, z, w) ``fraction`` of the way from ``q0`` to ``q1`` along the shorter arc."""
    a = np.asarray(q0, dtype=np.float64) / np.linalg.norm(q0)
    b = np.asarray(q1, dtype=np.float64) / np.linalg.norm(q1)
    dot = float(np.dot(a, b))
    if dot < 0.0:
        b, dot = -b, -dot
    if dot > 0.9995:  # nearly parallel: normalised linear interpolation is exact to float precision
        q = a + fraction * (b - a)
        return q / np.linalg.norm(q)
    angle = np.arccos(min(dot, 1.0))
    return (np.sin((1.0 - fraction) * angle) * a + np.sin(fraction * angle) * b) / np.sin(angle)


def interpolate_se3(T0: ArrayLike, T1: ArrayLike, fraction: float) -> Float:
    """(4, 4) transform ``fraction`` (0: ``T0``, 1: ``T1``) between two rigid transforms: slerp and lerp."""
    A, B = np.asarray(T0, dtype=np.float64), np.asarray(T1, dtype=np.float64)
    q = slerp_quaternion(matrix_to_quaternion(A[:3, :3]), matrix_to_quaternion(B[:3, :3]), fraction)
    return make_se3(quaternion_to_matrix(q), (1.0 - fraction) * A[:3, 3] + fraction * B[:3, 3])
