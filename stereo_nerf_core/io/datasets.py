"""Readers for public stereo datasets used to measure the front-end on real data.

- SCARED keyframes: raw (distorted) pair, OpenCV calibration, structured-light ground truth stored
  as uint16 / 256 = RANGE in mm on the distorted left grid (converted here to Z in metres).
- KITTI 2015: rectified pair, P_rect_02 / P_rect_03, sparse left disparity (uint16 / 256, 0 = none).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, StereoCalibration
from stereo_nerf_core.io.calibration import load_stereo_calibration
from stereo_nerf_core.io.errors import CalibrationFileError, DatasetError


def read_rgb(path: Path, *, error: type[StereoNerfError] = DatasetError) -> NDArray[np.uint8]:
    """An 8-bit colour (or grey) image file as RGB (H, W, 3); alpha is dropped. ``error`` (naming the file) when
    it cannot be read: the caller's domain error (importers raise ImporterError)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise error(f"{path}: not a readable image")
    return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def read_uint16_scaled(path: Path, scale: float) -> NDArray[np.float32]:
    """A 16-bit PNG divided by ``scale`` (0 stays 0)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.dtype != np.uint16 or image.ndim != 2:
        raise DatasetError(f"{path}: expected a single-channel 16-bit PNG")
    return (image.astype(np.float32) / np.float32(scale)).astype(np.float32)


@dataclass(frozen=True)
class RawStereoSample:
    """A raw stereo pair with its calibration and, when known, left ground-truth depth."""

    left: NDArray[np.uint8]
    """(H, W, 3) RGB, raw."""
    right: NDArray[np.uint8]
    calibration: StereoCalibration
    ground_truth_depth: NDArray[np.float32] | None
    """(H, W) Z in metres on the left raw grid, NaN where none."""


@dataclass(frozen=True)
class RectifiedStereoSample:
    """A rectified stereo pair with its calibration and sparse ground-truth disparity."""

    left: NDArray[np.uint8]
    right: NDArray[np.uint8]
    calibration: StereoCalibration
    ground_truth_disparity: NDArray[np.float32]
    """(H, W) left-reference disparity in pixels, 0 where none."""


def range_to_z(range_m: NDArray[np.floating], camera: PinholeCamera) -> NDArray[np.float32]:
    """Z (H, W) of a range map (distance to the camera centre) on a raw grid; NaN where range <= 0."""
    rays = camera.pixel_rays()
    z = range_m / np.linalg.norm(rays, axis=2)
    return np.where(range_m > 0, z, np.nan).astype(np.float32)


def load_scared_keyframe(
    left: Path,
    right: Path,
    calibration: Path,
    *,
    left_range_map: Path | None = None,
    alpha: float = -1.0,
) -> RawStereoSample:
    """A SCARED keyframe: raw images, calibration file (T in mm) and optional left range map (mm * 256)."""
    try:
        stereo = load_stereo_calibration(calibration, alpha=alpha, translation_unit="mm")
    except CalibrationFileError as error:
        raise DatasetError(str(error)) from error
    left_rgb, right_rgb = read_rgb(left), read_rgb(right)
    if left_rgb.shape != right_rgb.shape or left_rgb.shape[1::-1] != stereo.size:
        raise DatasetError(
            f"{left} {left_rgb.shape[1::-1]} / {right} {right_rgb.shape[1::-1]} do not match the calibration's "
            f"image size {stereo.size}"
        )
    depth = None
    if left_range_map is not None:
        range_m = read_uint16_scaled(left_range_map, 256.0) / 1000.0
        if range_m.shape != left_rgb.shape[:2]:
            raise DatasetError(f"{left_range_map}: size {range_m.shape[::-1]} differs from the images")
        depth = range_to_z(range_m, stereo.left.camera)
    return RawStereoSample(left_rgb, right_rgb, stereo, depth)


def parse_kitti_projections(path: Path) -> dict[str, NDArray[np.float64]]:
    """``name -> (3, 4)`` of every ``P_rect_*`` entry in a KITTI calibration text file."""
    tokens = path.read_text().replace(":", " : ").split()
    matrices: dict[str, NDArray[np.float64]] = {}
    for index, token in enumerate(tokens):
        if token.startswith("P_rect_") and tokens[index + 1] == ":":
            values = np.array(tokens[index + 2 : index + 14], dtype=np.float64)
            matrices[token] = values.reshape(3, 4)
    if not matrices:
        raise DatasetError(f"{path}: no P_rect_NN entries")
    return matrices


def load_kitti_pair(left: Path, right: Path, calibration: Path, disparity: Path) -> RectifiedStereoSample:
    """A KITTI 2015 pair (cameras 2 and 3) with its sparse left disparity."""
    projections = parse_kitti_projections(calibration)
    try:
        P2, P3 = projections["P_rect_02"], projections["P_rect_03"]
    except KeyError as error:
        raise DatasetError(f"{calibration}: needs P_rect_02 and P_rect_03") from error
    left_rgb, right_rgb = read_rgb(left), read_rgb(right)
    height, width = left_rgb.shape[:2]
    K = P2[:, :3]
    P_left = np.hstack([K, np.zeros((3, 1))])
    P_right = P_left.copy()
    P_right[0, 3] = P3[0, 3] - P2[0, 3]  # -fx * baseline between cameras 2 and 3
    camera = PinholeCamera(width, height, K)
    stereo = StereoCalibration(RectifiedView(camera, np.eye(3), P_left), RectifiedView(camera, np.eye(3), P_right))
    return RectifiedStereoSample(left_rgb, right_rgb, stereo, read_uint16_scaled(disparity, 256.0))
