"""Rotations and poses for silhouette alignment: axis-angle, projection, rotation grids, pose errors.

``T_a_b`` (4, 4) maps points of frame ``b`` into frame ``a`` (``stereo_nerf_core.geometry``); cameras are
OpenCV optical frames (x right, y down, z forward), metres, pixel-centre pixel coordinates.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.geometry.transforms import rotation_angle_deg

Float = NDArray[np.float64]


def project(points: Tensor, K: Tensor, *, min_depth: float = 1e-6) -> Tensor:
    """Pixel coordinates (N, 2) of camera-frame points (N, 3) with intrinsics ``K`` (3, 3) (skew honoured).

    Depths below ``min_depth`` are clamped (points behind the camera are not meaningful).
    """
    z = points[:, 2:3].clamp_min(min_depth)
    normalised = points[:, :2] / z
    u = K[0, 0] * normalised[:, 0] + K[0, 1] * normalised[:, 1] + K[0, 2]
    v = K[1, 1] * normalised[:, 1] + K[1, 2]
    return torch.stack([u, v], 1)


def check_rigid(T: NDArray[np.floating], name: str, *, tolerance: float = 1e-4) -> Float:
    """``T`` as a float64 (4, 4) rigid transform; AlignmentError naming ``name`` otherwise."""
    M = np.asarray(T, dtype=np.float64)
    if M.shape != (4, 4):
        raise AlignmentError(f"{name} must be a 4x4 matrix, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise AlignmentError(f"{name} has non-finite entries")
    R = M[:3, :3]
    orthogonality = float(np.abs(R.T @ R - np.eye(3)).max())
    det = float(np.linalg.det(R))
    if orthogonality > tolerance or abs(det - 1.0) > tolerance or np.abs(M[3] - [0, 0, 0, 1]).max() > tolerance:
        raise AlignmentError(
            f"{name} is not a rigid transform: |R^T R - I| = {orthogonality:.2g}, det R = {det:.4g}, "
            f"last row {M[3].tolist()} (need a rotation, tolerance {tolerance}, and last row [0, 0, 0, 1])"
        )
    return M


def fibonacci_directions(count: int) -> Float:
    """``count`` nearly uniform unit vectors (count, 3) on the sphere (Fibonacci lattice)."""
    i = np.arange(count, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * i / count
    radius = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    return np.stack([radius * np.cos(phi), radius * np.sin(phi), z], axis=1)


def viewing_rotations(directions: Float, rolls: int) -> Float:
    """Rotations ``R_camera_object`` (N * rolls, 3, 3) looking at the object from ``directions`` (N, 3).

    Each direction is a unit vector from the object towards the camera, in the object frame; each gets
    ``rolls`` rotations about the optical axis, evenly spaced over 360 degrees.
    """
    forward = -directions / np.linalg.norm(directions, axis=1, keepdims=True)
    helper = np.where(np.abs(forward[:, 1:2]) < 0.9, [[0.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]])
    right = np.cross(helper, forward)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    down = np.cross(forward, right)
    base = np.stack([right, down, forward], axis=1)
    angles = 2.0 * math.pi * np.arange(rolls) / rolls
    c, s = np.cos(angles), np.sin(angles)
    roll = np.zeros((rolls, 3, 3))
    roll[:, 0, 0], roll[:, 0, 1], roll[:, 1, 0], roll[:, 1, 1], roll[:, 2, 2] = c, -s, s, c, 1.0
    return np.einsum("rij,njk->nrik", roll, base).reshape(-1, 3, 3)


def pose_errors(T_estimate: Float, T_true: Float, *, centre: Float | None = None) -> tuple[float, float]:
    """(rotation error in degrees, translation error as a fraction of the distance) of ``T_camera_object``.

    The translation error is the distance between the two camera-frame positions of ``centre``
    (object-frame (3,), default the origin) divided by its true distance from the camera.
    """
    point = np.zeros(3) if centre is None else np.asarray(centre, dtype=np.float64)
    estimate = T_estimate[:3, :3] @ point + T_estimate[:3, 3]
    truth = T_true[:3, :3] @ point + T_true[:3, 3]
    relative = float(np.linalg.norm(estimate - truth)) / max(float(np.linalg.norm(truth)), 1e-12)
    return rotation_angle_deg(T_estimate[:3, :3].T @ T_true[:3, :3]), relative
