"""Stereo calibration files: OpenCV FileStorage (YAML or JSON) with K1, D1, K2, D2, R, T.

``T`` is kept in the file's unit and converted to metres: say which with ``translation_unit`` or
let the loader infer it from the baseline length (endoscopes: millimetres; KITTI-like rigs: metres).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, StereoCalibration
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.io.errors import CalibrationFileError

Unit = Literal["mm", "m"]
REQUIRED_ENTRIES = ("K1", "D1", "K2", "D2", "R", "T")


def _read_matrix(storage: cv2.FileStorage, name: str, path: Path) -> NDArray[np.float64]:
    node = storage.getNode(name)
    if node.empty():
        raise CalibrationFileError(
            f"{path}: no {name} entry (a stereo calibration needs {', '.join(REQUIRED_ENTRIES)})"
        )
    matrix = node.mat()
    if matrix is None:
        raise CalibrationFileError(f"{path}: {name} is not an opencv-matrix")
    return np.asarray(matrix, dtype=np.float64)


def infer_translation_unit(T: NDArray[np.float64], *, path: Path | str = "calibration") -> Unit:
    """ "mm" for baselines of 1-200 (endoscopes), "m" below 1; anything else must be stated."""
    baseline = float(np.linalg.norm(T))
    if 1.0 <= baseline <= 200.0:
        return "mm"
    if 0.0 < baseline < 1.0:
        return "m"
    raise CalibrationFileError(
        f"{path}: cannot tell the unit of T (baseline {baseline:g}); pass translation_unit='mm' or 'm'"
    )


def load_stereo_calibration(
    path: Path | str,
    *,
    alpha: float = 0.0,
    translation_unit: Unit | None = None,
    image_size: tuple[int, int] | None = None,
) -> StereoCalibration:
    """Read a stereo calibration file and rectify it with ``cv2.stereoRectify`` (zero disparity).

    ``alpha`` is OpenCV's free scaling (0: only valid pixels, 1: all pixels, -1: OpenCV's default).
    ``image_size`` (width, height) is needed when the file has no ``image_size`` entry.
    """
    file = Path(path)
    if not file.exists():
        raise CalibrationFileError(f"{file}: calibration file not found")
    storage = cv2.FileStorage(str(file), cv2.FILE_STORAGE_READ)
    if not storage.isOpened():
        raise CalibrationFileError(f"{file}: not an OpenCV FileStorage YAML/JSON file")
    try:
        K1, D1, K2, D2, R, T = (_read_matrix(storage, name, file) for name in REQUIRED_ENTRIES)
        size_node = storage.getNode("image_size")
        if not size_node.empty():
            height, width = (int(v) for v in np.asarray(size_node.mat()).ravel()[:2])
        elif image_size is not None:
            width, height = image_size
        else:
            raise CalibrationFileError(f"{file}: no image_size entry; pass image_size=(width, height)")
    finally:
        storage.release()
    T = T.reshape(3)
    unit = translation_unit or infer_translation_unit(T, path=file)
    T_m = T / 1000.0 if unit == "mm" else T
    try:
        left = PinholeCamera(width, height, K1, D1.ravel())
        right = PinholeCamera(width, height, K2, D2.ravel())
        return StereoCalibration.from_rig(left, right, R, T_m, alpha=alpha)
    except GeometryError as error:
        raise CalibrationFileError(f"{file}: {error}") from error
