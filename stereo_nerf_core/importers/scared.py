"""SCARED keyframes (EndoVis 2019): one raw stereo pair with structured-light ground truth.

A keyframe folder holds ``Left_Image.png``, ``Right_Image.png`` (raw, distorted, 1280x1024),
``endoscope_calibration.yaml`` (OpenCV FileStorage: ``M1``/``K1``, ``D1``, ``M2``/``K2``, ``D2``, ``R``,
``T`` in mm) and ``left_depth_map.tiff`` (3-channel float: the X, Y, Z in mm of the surface point each
left raw pixel sees, 0 = none). Other layouts name their files: ``left`` / ``right`` /
``calibration`` and either ``left_range_map`` (uint16 PNG, value / 256 = RANGE in mm, i.e. the distance
to the camera centre, on the left raw grid: the scared_toolkit's ``*_depthmap_*.png``) or
``left_point_map`` (a tiff as above). A relative file name is looked up in the keyframe folder when it
does not exist as given. The truth becomes ``/ground_truth/left/depth`` (Z in metres on the left raw
grid, NaN = none; range -> Z along each pixel's undistorted ray). One frame, at the fixed first stamp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera
from stereo_nerf_core.importers.calibration import read_stereo_file
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.files import check_size, read_raw, read_rgb, require_file, require_folder
from stereo_nerf_core.importers.writer import ImportedFrame, Recording, rig_transform
from stereo_nerf_core.io.datasets import range_to_z

LEFT_IMAGE = "Left_Image.png"
RIGHT_IMAGE = "Right_Image.png"
CALIBRATION = "endoscope_calibration.yaml"
LEFT_POINT_MAP = "left_depth_map.tiff"
RANGE_SCALE = 256.0
"""uint16 range maps hold range_mm * 256."""


def resolve(root: Path, given: Path | None, default: str) -> Path:
    """``given`` as it is when it exists (or is absolute), else inside ``root``; ``root / default`` when None."""
    if given is None:
        return root / default
    return given if given.is_absolute() or given.exists() else root / given


def read_range_map_z(path: Path, camera: PinholeCamera) -> NDArray[np.float32]:
    """Z in metres of a uint16 range map (value / 256 = range in mm) on ``camera``'s raw grid; NaN where 0."""
    raw = read_raw(require_file(path, "a uint16 range map (value / 256 = range in mm)"))
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ImporterError(f"{path}: expected a single-channel 16-bit range map, got {raw.dtype} {raw.shape}")
    check_size(path, raw, camera.size, "the left image")
    range_m = raw.astype(np.float32) / np.float32(RANGE_SCALE * 1000.0)
    return range_to_z(range_m, camera)


def read_point_map_z(path: Path, size: tuple[int, int]) -> NDArray[np.float32]:
    """Z in metres of a SCARED 3-channel XYZ (mm) tiff; NaN where Z is 0 or not finite."""
    raw = read_raw(require_file(path, "a SCARED 3-channel XYZ tiff (mm)"))
    if raw.ndim != 3 or raw.shape[2] != 3 or raw.dtype.kind != "f":
        raise ImporterError(f"{path}: expected a 3-channel float XYZ map, got {raw.dtype} {raw.shape}")
    check_size(path, raw, size, "the left image")
    z_mm = raw[:, :, 0].astype(np.float32)  # OpenCV returns the file's (X, Y, Z) channels as (Z, Y, X)
    return np.where(np.isfinite(z_mm) & (z_mm > 0), z_mm / np.float32(1000.0), np.nan).astype(np.float32)


def load_scared(
    source: Path,
    *,
    left: Path | None = None,
    right: Path | None = None,
    calibration_file: Path | None = None,
    left_range_map: Path | None = None,
    left_point_map: Path | None = None,
    alpha: float = 0.0,
) -> Recording:
    """A SCARED keyframe (or files named explicitly) as a one-frame stereo :class:`Recording`."""
    root = require_folder(source, "a SCARED keyframe folder")
    if left_range_map is not None and left_point_map is not None:
        raise ImporterError("give the SCARED ground truth as --left-range-map or --left-point-map, not both")
    left_path = require_file(resolve(root, left, LEFT_IMAGE), "the left raw image (--left)")
    right_path = require_file(resolve(root, right, RIGHT_IMAGE), "the right raw image (--right)")
    calibration_path = resolve(root, calibration_file, CALIBRATION)
    range_path = None if left_range_map is None else resolve(root, left_range_map, "")
    point_path = None if left_point_map is None else resolve(root, left_point_map, "")
    if range_path is None and point_path is None and (root / LEFT_POINT_MAP).is_file():
        point_path = root / LEFT_POINT_MAP
    left_rgb, right_rgb = read_rgb(left_path), read_rgb(right_path)
    size = (left_rgb.shape[1], left_rgb.shape[0])
    check_size(right_path, right_rgb, size, f"the left image {left_path.name}")
    calibration = read_stereo_file(
        calibration_path, image_size=size, image=left_path, alpha=alpha, translation_unit="mm"
    )
    if range_path is not None:
        ground_truth: NDArray[np.float32] | None = read_range_map_z(range_path, calibration.left.camera)
    elif point_path is not None:
        ground_truth = read_point_map_z(point_path, size)
    else:
        ground_truth = None
    frame = ImportedFrame(left=left_rgb, right=right_rgb, ground_truth_depth=ground_truth)
    truth = range_path or point_path
    return Recording(
        format="scared",
        source=root,
        left_images=(left_path,),
        load=lambda index: frame,
        left_view=calibration.left,
        right_view=calibration.right,
        T_left_right=rig_transform(calibration),
        custom_data={
            "stereo_nerf.scared.calibration": str(calibration_path.resolve()),
            "stereo_nerf.scared.ground_truth": "none" if truth is None else str(truth.resolve()),
        },
    )
