"""Pinhole cameras and calibrated stereo pairs in the ROS CameraInfo convention.

Frames are optical frames (x right, y down, z forward), units are metres and pixels. A
:class:`StereoCalibration` holds, for each camera, what a ``sensor_msgs/CameraInfo`` holds: the raw
intrinsics ``K`` and distortion ``D`` (plumb_bob), the rectification rotation ``R`` (rectified frame
from raw frame) and the rectified projection ``P``; the right ``P`` carries ``Tx = -fx * baseline``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.geometry.transforms import make_se3

Float = NDArray[np.float64]


def _matrix(values: ArrayLike, shape: tuple[int, ...], name: str) -> Float:
    array = np.asarray(values, dtype=np.float64)
    if array.size != int(np.prod(shape)):
        raise GeometryError(f"{name} must have shape {shape}, got {array.shape}")
    array = array.reshape(shape)
    if not np.all(np.isfinite(array)):
        raise GeometryError(f"{name} has non-finite entries")
    return array


@dataclass(frozen=True)
class PinholeCamera:
    """Raw camera: image size, intrinsics ``K`` (3, 3) and OpenCV distortion ``D``.

    ``D`` holds 4, 5, 8, 12 or 14 coefficients (plumb_bob is 5, rational_polynomial 8); fewer
    than 4 are zero-padded to 5.
    """

    width: int
    height: int
    K: Float
    D: Float = field(default_factory=lambda: np.zeros(5))

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise GeometryError(f"camera size must be positive, got {self.width}x{self.height}")
        object.__setattr__(self, "K", _matrix(self.K, (3, 3), "K"))
        given = np.asarray(self.D, dtype=np.float64).reshape(-1)
        if given.size not in (0, 1, 2, 3, 4, 5, 8, 12, 14) or not np.all(np.isfinite(given)):
            raise GeometryError(f"D must hold 4, 5, 8, 12 or 14 finite coefficients, got {given.tolist()}")
        distortion = given if given.size >= 4 else np.pad(given, (0, 5 - given.size))
        object.__setattr__(self, "D", distortion)
        if self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise GeometryError(f"focal lengths must be positive, got fx={self.K[0, 0]}, fy={self.K[1, 1]}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order OpenCV expects."""
        return (self.width, self.height)

    def scaled(self, width: int, height: int) -> PinholeCamera:
        """The same optics resampled to another resolution (pixel-centre convention)."""
        sx, sy = width / self.width, height / self.height
        K = self.K.copy()
        K[0, 0] *= sx
        K[1, 1] *= sy
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
        return PinholeCamera(width, height, K, self.D.copy())

    def pixel_rays(self) -> NDArray[np.float64]:
        """Undistorted rays ``(x, y, 1)`` of every raw pixel centre, shape (H, W, 3), read-only (cached)."""
        return self._pixel_rays

    @cached_property
    def _pixel_rays(self) -> NDArray[np.float64]:
        u, v = np.meshgrid(np.arange(self.width, dtype=np.float64), np.arange(self.height, dtype=np.float64))
        pixels = np.stack([u.ravel(), v.ravel()], axis=1).reshape(-1, 1, 2)
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
        normalised = cv2.undistortPoints(pixels, self.K, self.D, criteria=criteria)
        normalised = normalised.reshape(self.height, self.width, 2)
        rays = np.concatenate([normalised, np.ones((self.height, self.width, 1))], axis=2)
        rays.flags.writeable = False
        return rays

    def project(self, points: ArrayLike) -> Float:
        """Raw (distorted) pixel coordinates (N, 2) of camera-frame points (N, 3)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        projected, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), self.K, self.D)
        return projected.reshape(-1, 2)


@dataclass(frozen=True)
class RectifiedView:
    """One camera of a calibrated pair, exactly what a ``sensor_msgs/CameraInfo`` carries."""

    camera: PinholeCamera
    R: Float
    """Rectification rotation (3, 3): rectified frame from raw frame."""
    P: Float
    """Rectified projection (3, 4)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "R", _matrix(self.R, (3, 3), "R"))
        object.__setattr__(self, "P", _matrix(self.P, (3, 4), "P"))
        if not np.allclose(self.R @ self.R.T, np.eye(3), atol=1e-6):
            raise GeometryError("R must be a rotation matrix (R @ R.T == I)")
        if self.P[0, 0] <= 0:
            raise GeometryError(f"P[0, 0] (rectified fx) must be positive, got {self.P[0, 0]}")

    def rectification_maps(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Float maps (H, W) from rectified pixels to raw pixels, for ``cv2.remap``."""
        map_x, map_y = cv2.initUndistortRectifyMap(
            self.camera.K, self.camera.D, self.R, self.P[:3, :3], self.camera.size, cv2.CV_32FC1
        )
        return map_x, map_y


@dataclass(frozen=True)
class StereoCalibration:
    """A calibrated stereo pair: left and right :class:`RectifiedView` (ROS CameraInfo semantics)."""

    left: RectifiedView
    right: RectifiedView

    def __post_init__(self) -> None:
        if self.left.camera.size != self.right.camera.size:
            raise GeometryError(
                f"left and right image sizes differ: {self.left.camera.size} vs {self.right.camera.size}"
            )
        same_rows = np.isclose(self.left.P[1, 1], self.right.P[1, 1], rtol=1e-6) and np.isclose(
            self.left.P[1, 2], self.right.P[1, 2], atol=1e-3
        )
        if not same_rows:
            raise GeometryError("left and right P disagree on fy/cy: the pair is not rectified row-wise")
        if self.baseline_m <= 0:
            raise GeometryError(f"baseline must be positive (right P[0, 3] = -fx * baseline), got {self.baseline_m} m")

    @classmethod
    def from_rig(
        cls,
        left: PinholeCamera,
        right: PinholeCamera,
        R_right_left: ArrayLike,
        t_right_left: ArrayLike,
        *,
        alpha: float = 0.0,
    ) -> StereoCalibration:
        """Rectify a raw rig (``x_right = R x_left + t``) with ``cv2.stereoRectify`` (zero disparity)."""
        R = _matrix(R_right_left, (3, 3), "R_right_left")
        t = _matrix(t_right_left, (3,), "t_right_left")
        if np.linalg.norm(t) == 0.0:
            raise GeometryError("stereo rig has a zero baseline (t_right_left is zero)")
        R1, R2, P1, P2, *_ = cv2.stereoRectify(
            left.K, left.D, right.K, right.D, left.size, R, t.reshape(3, 1), flags=cv2.CALIB_ZERO_DISPARITY, alpha=alpha
        )
        return cls(RectifiedView(left, R1, P1), RectifiedView(right, R2, P2))

    @classmethod
    def rectified(
        cls,
        width: int,
        height: int,
        *,
        fx: float,
        baseline_m: float,
        cx: float | None = None,
        cy: float | None = None,
        fy: float | None = None,
        cx_offset: float = 0.0,
    ) -> StereoCalibration:
        """A pair that is already rectified: pinhole intrinsics, no distortion, ``R = I``.

        ``cx_offset`` is ``cx_left - cx_right`` (non-zero when the principal points differ).
        """
        if baseline_m <= 0:
            raise GeometryError(f"baseline must be positive, got {baseline_m} m")
        cx = (width - 1) / 2.0 if cx is None else cx
        cy = (height - 1) / 2.0 if cy is None else cy
        K_left = np.array([[fx, 0.0, cx], [0.0, fy or fx, cy], [0.0, 0.0, 1.0]])
        K_right = K_left.copy()
        K_right[0, 2] = cx - cx_offset
        P_left = np.hstack([K_left, np.zeros((3, 1))])
        P_right = np.hstack([K_right, np.array([[-fx * baseline_m], [0.0], [0.0]])])
        return cls(
            RectifiedView(PinholeCamera(width, height, K_left), np.eye(3), P_left),
            RectifiedView(PinholeCamera(width, height, K_right), np.eye(3), P_right),
        )

    def rectified_scaled(self, width: int, height: int) -> StereoCalibration:
        """The calibration of this pair's rectified images resampled to ``width`` x ``height``."""
        sx, sy = width / self.size[0], height / self.size[1]
        K = self.K_rect
        return StereoCalibration.rectified(
            width,
            height,
            fx=K[0, 0] * sx,
            fy=K[1, 1] * sy,
            cx=(K[0, 2] + 0.5) * sx - 0.5,
            cy=(K[1, 2] + 0.5) * sy - 0.5,
            baseline_m=self.baseline_m,
            cx_offset=self.disparity_offset * sx,
        )

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of both images."""
        return self.left.camera.size

    @property
    def fx(self) -> float:
        """Rectified focal length in pixels."""
        return float(self.left.P[0, 0])

    @property
    def baseline_m(self) -> float:
        """Baseline in metres, from the right projection: ``-P[0, 3] / P[0, 0]``."""
        return float(-self.right.P[0, 3] / self.right.P[0, 0])

    @property
    def disparity_offset(self) -> float:
        """``cx_left - cx_right`` of the rectified pair (0 with zero-disparity rectification)."""
        return float(self.left.P[0, 2] - self.right.P[0, 2])

    @property
    def K_rect(self) -> Float:
        """Intrinsics (3, 3) of the rectified left image."""
        return self.left.P[:, :3].copy()

    @property
    def T_raw_rect(self) -> Float:
        """Transform (4, 4) from the rectified left frame to the raw left optical frame."""
        return make_se3(self.left.R.T, np.zeros(3))

    @cached_property
    def maps(self) -> tuple[tuple[NDArray[np.float32], NDArray[np.float32]], ...]:
        """Rectification maps ((left_x, left_y), (right_x, right_y)), computed once."""
        return (self.left.rectification_maps(), self.right.rectification_maps())

    def rectify(self, left: NDArray[np.generic], right: NDArray[np.generic]) -> tuple[NDArray, NDArray]:
        """Rectify a raw pair (H, W[, C]) with bilinear interpolation."""
        for name, image in (("left", left), ("right", right)):
            if image.shape[1::-1] != self.size:
                raise GeometryError(
                    f"{name} image is {image.shape[1]}x{image.shape[0]}, calibration expects "
                    f"{self.size[0]}x{self.size[1]}"
                )
        (lx, ly), (rx, ry) = self.maps
        return (
            cv2.remap(left, lx, ly, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT),
            cv2.remap(right, rx, ry, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT),
        )

    def rectify_left_nearest(self, image: NDArray[np.generic]) -> NDArray:
        """Resample a left-grid image (mask, depth) onto the rectified grid without blending values."""
        lx, ly = self.maps[0]
        return cv2.remap(image, lx, ly, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)

    def depth_from_disparity(self, disparity: NDArray[np.floating]) -> NDArray[np.float32]:
        """Metric depth (H, W) from left-reference disparity in pixels; 0 where disparity is invalid."""
        d = np.asarray(disparity, dtype=np.float32) - np.float32(self.disparity_offset)
        depth = np.zeros_like(d)
        valid = np.isfinite(d) & (d > 0)
        depth[valid] = np.float32(self.fx * self.baseline_m) / d[valid]
        return depth

    def disparity_from_depth(self, depth: NDArray[np.floating]) -> NDArray[np.float32]:
        """Disparity (H, W) in pixels of a rectified left depth map; 0 where depth is not positive."""
        z = np.asarray(depth, dtype=np.float32)
        disparity = np.zeros_like(z)
        valid = np.isfinite(z) & (z > 0)
        disparity[valid] = np.float32(self.fx * self.baseline_m) / z[valid] + np.float32(self.disparity_offset)
        return disparity


MONOCULAR_PLACEHOLDER_BASELINE_M = 1.0
"""The baseline of the placeholder right view of :func:`left_only_calibration`."""


def left_only_calibration(left: RectifiedView) -> StereoCalibration:
    """The camera of a monocular recording as a :class:`StereoCalibration`, so its frames take the stereo frames'
    road (rectified grid ``K_rect``, ``T_raw_rect``, masks and depth resampled onto it).

    Its right view is a placeholder: the left's model moved :data:`MONOCULAR_PLACEHOLDER_BASELINE_M` to the right.
    Nothing stereo (matching, disparity, a right image) may use it.
    """
    P = left.P.copy()
    P[0, 3] = left.P[0, 3] - P[0, 0] * MONOCULAR_PLACEHOLDER_BASELINE_M
    return StereoCalibration(left, RectifiedView(left.camera, left.R, P))


def decompose_projection(P: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(K (3, 3) with K[2, 2] = 1, T_world_camera (4, 4)) of a (3, 4) projection matrix ``K [R | t]``."""
    K, R, centre = cv2.decomposeProjectionMatrix(np.asarray(P, dtype=np.float64))[:3]
    T = np.eye(4)
    T[:3, :3] = R.T
    T[:3, 3] = (centre[:3] / centre[3]).ravel()
    return K / K[2, 2], T
