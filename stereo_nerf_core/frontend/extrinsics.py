"""Online refinement of the stereo rotation: the right camera's roll, measured on every pair and undone.

A rig's relative rotation drifts (heat, handling, a re-mounted scope). On a pair rectified with the
old calibration, a small rotation ``w = (wx, wy, wz)`` of the right camera moves a right pixel with
normalised coordinates ``(x, y) = ((u - cx) / f, (v - cy) / f)`` by, to first order::

    du = f [ wy (1 + x^2) - wz y - wx x y ]        (horizontal: biases the disparity, hence depth)
    dv = f [-wx (1 + y^2) + wz x + wy x y ]        (vertical: what :mod:`.vertical` measures)

:mod:`~stereo_nerf_core.frontend.vertical` removes ``dv`` by resampling rows, but ``du`` stays. Of the
three angles only the roll ``wz`` has a first-order horizontal effect that its vertical signature
pins down: it tilts the disparity by ``-f wz y`` from the top of the image to the bottom, and shows
as a vertical offset ``f wz x`` that grows from left to right. Here the matches' vertical offsets
``y_left - y_right = -dv`` give the roll, and the right image is warped by the inverse rotation's
homography ``K R^T K^-1``, which removes both components; the baseline (direction and length) stays
the calibrated one.

Not applied, and why:

- yaw ``wy``: its vertical signature ``f wy x y`` is second order while its horizontal effect is a
  uniform disparity offset, i.e. the depth scale: a wrong yaw is a global depth bias. (A free yaw
  fitted to SCARED d5k1's matches swings to -1.8 deg and its a1 falls to 0.03.)
- pitch ``wx``: its horizontal effect ``f wx x y`` is second order, and its vertical signature, a
  near-constant offset, is shared with a vertical baseline component and a principal-point offset;
  its ``y^2`` curvature alone is too weak (a fit with pitch finds 0.7 deg on a perfectly aligned
  synthetic pair). The row alignment removes the offset whatever its cause.

The fit therefore takes the roll together with the nuisance terms of :mod:`.vertical` (constant,
``y``, ``y^2``, ``x y`` and the disparity). The roll is applied only when the shift it causes on the
image border is at least ``min_shift_px`` (input pixels), more than three standard deviations, and
below :data:`MAX_ROLL_DEG` (beyond that it is not a drift but another calibration):
small or ambiguous rolls are left alone. :class:`ExtrinsicsRefiner` keeps the correction for the
frames of a stream; the matches are measured on every pair anyway (for the rows' alignment), so a
drift that comes back is seen on the next pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import StereoCalibration

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

MIN_MATCHES = 30
"""Fewer sparse matches than this give no estimate."""
SIGNIFICANCE = 3.0
"""A roll is applied only when its shift exceeds this many standard deviations."""
MAX_ROLL_DEG = 2.0
"""A larger roll is not a drift of this calibration: it is not applied (the row check may refuse the pair)."""


def rotation_matrix(pitch_rad: float, roll_rad: float) -> F64:
    """(3, 3) rotation by ``pitch`` about the optical frame's x axis and ``roll`` about its z axis (Rodrigues)."""
    matrix, _ = cv2.Rodrigues(np.array([pitch_rad, 0.0, roll_rad], np.float64))
    return np.asarray(matrix, np.float64)


def scaled_intrinsics(K: F64, scale: float) -> F64:
    """``K`` (3, 3) of an image downscaled by ``scale`` (pixel-centre convention)."""
    scaled = np.asarray(K, np.float64).copy()
    scaled[:2, :2] /= scale
    scaled[:2, 2] = (scaled[:2, 2] + 0.5) / scale - 0.5
    return scaled


def right_intrinsics(calibration: StereoCalibration) -> F64:
    """(3, 3) intrinsics of the rectified right image (its principal point may differ from the left's)."""
    return np.asarray(calibration.right.P[:, :3], np.float64).copy()


def correction_homography(rotation: F64, K: F64) -> F64:
    """(3, 3) homography ``K R^T K^-1``: right pixels of a camera rotated by ``rotation`` -> calibrated right pixels."""
    return np.asarray(K @ rotation.T @ np.linalg.inv(K), np.float64)


def warp_right(image: NDArray[np.uint8], rotation: F64, K: F64) -> NDArray[np.uint8]:
    """The right image (H, W[, C]) as the calibrated right camera would see it (see :func:`correction_homography`)."""
    height, width = image.shape[:2]
    homography = correction_homography(rotation, K)
    return cv2.warpPerspective(
        image, homography, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


@dataclass(frozen=True)
class RollEstimate:
    """The right camera's residual roll, measured from one pair's sparse matches."""

    roll_rad: float
    """Rotation about the optical axis, radians (positive: the right image turns from +x towards +y)."""
    deviation_rad: float
    """Its standard deviation, radians."""
    matches: int
    """Inlier matches of the fit."""
    residual_px: float
    """Robust spread (1.4826 MAD) of the matches' vertical offsets about the fit, pixels."""

    @property
    def rotation(self) -> F64:
        """(3, 3) the measured rotation."""
        return rotation_matrix(0.0, self.roll_rad)

    def shift_px(self, K: F64, height: int) -> tuple[float, float]:
        """The largest horizontal shift (px of the image ``K`` (3, 3) describes, ``height`` rows) the roll causes,
        at the top or bottom row, and its standard deviation."""
        reach = float(max(abs(K[1, 2]), abs(height - 1 - K[1, 2])) / K[1, 1] * K[0, 0])  # f max|y|
        return reach * abs(self.roll_rad), reach * self.deviation_rad


def estimate_roll(points: F32, disparity: F32, dy: F32, K: F64) -> RollEstimate | None:
    """The right camera's roll from sparse matches of a rectified pair; ``None`` with too few matches.

    ``points`` (N, 2) are left pixels ``(x, y)``, ``disparity`` (N,) ``x_left - x_right``, ``dy`` (N,)
    ``y_left - y_right``, all in pixels of the image whose right intrinsics are ``K`` (3, 3). The fit
    is robust (iteratively re-weighted: matches beyond 3 robust standard deviations, at least 0.6 px,
    are left out) and takes the nuisance terms of the module docstring along.
    """
    count = len(dy)
    if count < MIN_MATCHES:
        return None
    f = float(K[0, 0])
    x = (points[:, 0].astype(np.float64) - disparity - K[0, 2]) / f
    y = (points[:, 1].astype(np.float64) - dy - K[1, 2]) / K[1, 1]
    # dy = -f roll x + nuisance: constant (pitch, cy), y (focal, forward baseline), y^2 (pitch), x y (yaw), disparity
    columns = [-f * x, np.ones_like(x), f * y, f * y * y, f * x * y, disparity.astype(np.float64)]
    design = np.stack(columns, axis=1)
    norms = np.maximum(np.sqrt(np.mean(design * design, axis=0)), 1e-9)
    scaled = design / norms
    target = dy.astype(np.float64)
    inliers = np.ones(count, bool)
    coefficients = np.zeros(design.shape[1])
    spread = 0.0
    for _ in range(6):
        if inliers.sum() < MIN_MATCHES:
            return None
        coefficients = np.linalg.lstsq(scaled[inliers], target[inliers], rcond=None)[0]
        residual = target - scaled @ coefficients
        spread = float(1.4826 * np.median(np.abs(residual[inliers])))
        updated = np.abs(residual) <= 3.0 * max(spread, 0.2)
        if np.array_equal(updated, inliers):
            break
        inliers = updated
    used = scaled[inliers]
    dof = max(int(inliers.sum()) - design.shape[1], 1)
    variance = float(np.sum((target[inliers] - used @ coefficients) ** 2) / dof)
    roll_variance = variance * float(np.linalg.pinv(used.T @ used)[0, 0])
    return RollEstimate(
        roll_rad=float(coefficients[0] / norms[0]),
        deviation_rad=math.sqrt(max(roll_variance, 0.0)) / float(norms[0]),
        matches=int(inliers.sum()),
        residual_px=spread,
    )


def transform_matches(points: F32, disparity: F32, dy: F32, homography: F64) -> tuple[F32, F32]:
    """Disparities and vertical offsets of matches (left ``points`` (N, 2)) after warping the right image by
    ``homography`` (3, 3)."""
    right = np.stack([points[:, 0] - disparity, points[:, 1] - dy], axis=1).astype(np.float64)
    moved = cv2.perspectiveTransform(right.reshape(-1, 1, 2), homography).reshape(-1, 2)
    return (points[:, 0] - moved[:, 0]).astype(np.float32), (points[:, 1] - moved[:, 1]).astype(np.float32)


def _calibration_key(calibration: StereoCalibration) -> tuple[float, ...]:
    K = calibration.K_rect
    return (*calibration.size, K[0, 0], K[1, 1], K[0, 2], K[1, 2], calibration.baseline_m, calibration.disparity_offset)


class ExtrinsicsRefiner:
    """The corrective rotation of a stream's right camera, kept across its frames.

    :meth:`rotation` gives the current correction for a calibration (identity for a new one: another
    calibration starts afresh); :meth:`observe` folds in a residual roll measured on a pair that was
    already corrected, when it is large and significant enough.
    """

    def __init__(self, *, min_shift_px: float = 0.5, significance: float = SIGNIFICANCE) -> None:
        self.min_shift_px = min_shift_px
        self.significance = significance
        self._key: tuple[float, ...] | None = None
        self._rotation: F64 = np.eye(3)
        self.updates = 0
        """Times the correction changed for the current calibration."""
        self.last_estimate: RollEstimate | None = None
        """The residual roll measured on the latest pair (None: too few matches)."""

    def rotation(self, calibration: StereoCalibration) -> F64:
        """(3, 3) the current correction for ``calibration`` (identity until one is measured)."""
        key = _calibration_key(calibration)
        if key != self._key:
            self._key, self._rotation, self.updates, self.last_estimate = key, np.eye(3), 0, None
        return self._rotation.copy()

    @property
    def roll_deg(self) -> float:
        """The current correction's roll, degrees."""
        vector, _ = cv2.Rodrigues(self._rotation)
        return float(np.degrees(vector[2, 0]))

    def observe(
        self, calibration: StereoCalibration, estimate: RollEstimate | None, K: F64, height: int, scale: float
    ) -> F64 | None:
        """Fold the residual roll ``estimate``, measured on a pair already corrected with :meth:`rotation` (an
        image of ``height`` rows with right intrinsics ``K``, ``scale`` input pixels per pixel), into the
        correction. Returns the residual rotation (3, 3) that was applied, None when nothing changed."""
        self.rotation(calibration)  # resets the state for a new calibration
        self.last_estimate = estimate
        if estimate is None or abs(math.degrees(estimate.roll_rad)) > MAX_ROLL_DEG:
            return None
        shift, deviation = estimate.shift_px(K, height)
        if shift * scale < self.min_shift_px or shift <= self.significance * deviation:
            return None
        self._rotation = self._rotation @ estimate.rotation
        self.updates += 1
        return estimate.rotation
