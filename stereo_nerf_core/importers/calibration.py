"""Stereo calibrations for the importers: an OpenCV stereo file, or the numbers of an already-rectified pair.

Files are OpenCV FileStorage YAML/JSON with ``K1 D1 K2 D2 R T`` (SCARED's ``M1``/``M2`` are accepted
for ``K1``/``K2``), ``x_right = R x_left + T``, T in mm or m (inferred from the baseline length as in
:func:`stereo_nerf_core.io.calibration.infer_translation_unit` unless stated). The image size comes
from the images; an ``image_size`` entry ([height, width]) that disagrees with them is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, StereoCalibration
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.files import require_file
from stereo_nerf_core.io.calibration import Unit, infer_translation_unit
from stereo_nerf_core.io.errors import CalibrationFileError

ENTRIES = {"K1": ("K1", "M1"), "D1": ("D1",), "K2": ("K2", "M2"), "D2": ("D2",), "R": ("R",), "T": ("T",)}


@dataclass(frozen=True)
class RectifiedPair:
    """An already-rectified pair: focal length and baseline (principal point defaults to the centre)."""

    fx: float
    baseline_m: float
    cx: float | None = None
    cy: float | None = None
    fy: float | None = None


def _matrix(storage: cv2.FileStorage, names: tuple[str, ...], path: Path) -> NDArray[np.float64]:
    for name in names:
        node = storage.getNode(name)
        if not node.empty():
            matrix = node.mat()
            if matrix is None:
                raise ImporterError(f"{path}: {name} is not an opencv-matrix")
            return np.asarray(matrix, dtype=np.float64)
    raise ImporterError(f"{path}: no {' or '.join(names)} entry (a stereo calibration needs K1 D1 K2 D2 R T)")


def read_stereo_file(
    path: Path,
    *,
    image_size: tuple[int, int],
    image: Path,
    alpha: float = 0.0,
    translation_unit: Unit | None = None,
) -> StereoCalibration:
    """The calibration in ``path`` for images of ``image_size`` (width, height); ``image`` is named in errors."""
    require_file(path, "an OpenCV stereo calibration (K1 D1 K2 D2 R T)")
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    if not storage.isOpened():
        raise ImporterError(f"{path}: not an OpenCV FileStorage YAML/JSON file")
    try:
        K1, D1, K2, D2, R, T = (_matrix(storage, names, path) for names in ENTRIES.values())
        size_node = storage.getNode("image_size")
        file_size = None if size_node.empty() else tuple(int(v) for v in np.asarray(size_node.mat()).ravel()[:2])
    finally:
        storage.release()
    width, height = image_size
    if file_size is not None and file_size != (height, width):
        raise ImporterError(
            f"{image}: image is {width}x{height} but the calibration {path} is for {file_size[1]}x{file_size[0]}"
        )
    T = T.reshape(-1)
    try:
        unit = translation_unit or infer_translation_unit(T, path=path)
        left = PinholeCamera(width, height, K1, D1.ravel())
        right = PinholeCamera(width, height, K2, D2.ravel())
        return StereoCalibration.from_rig(left, right, R, T / 1000.0 if unit == "mm" else T, alpha=alpha)
    except (GeometryError, CalibrationFileError) as error:
        raise ImporterError(f"{path}: {error}") from error


def stereo_calibration(
    *,
    calibration_file: Path | None,
    rectified: RectifiedPair | None,
    image_size: tuple[int, int],
    image: Path,
    alpha: float = 0.0,
    translation_unit: Unit | None = None,
) -> StereoCalibration:
    """The pair's calibration from exactly one of a file or the numbers of a rectified pair."""
    if (calibration_file is None) == (rectified is None):
        raise ImporterError(
            "give the stereo calibration either as --calibration FILE or, for an already-rectified pair, "
            "as --rectified --fx PX --baseline-m M [--cx --cy]"
            + (" (not both)" if calibration_file is not None else "")
        )
    if calibration_file is not None:
        return read_stereo_file(
            calibration_file, image_size=image_size, image=image, alpha=alpha, translation_unit=translation_unit
        )
    assert rectified is not None
    width, height = image_size
    try:
        return StereoCalibration.rectified(
            width,
            height,
            fx=rectified.fx,
            fy=rectified.fy,
            baseline_m=rectified.baseline_m,
            cx=rectified.cx,
            cy=rectified.cy,
        )
    except GeometryError as error:
        raise ImporterError(f"--rectified pair: {error}") from error


def left_grid_is_rectified(calibration: StereoCalibration) -> bool:
    """True when the left raw grid is its rectified grid (R = I, no distortion, K = P[:, :3])."""
    view = calibration.left
    return bool(
        np.allclose(view.R, np.eye(3)) and not np.any(view.camera.D) and np.allclose(view.camera.K, view.P[:, :3])
    )
