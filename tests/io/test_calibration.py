"""Calibration files on real optics: the shared SCARED d1k1 pair and its third-party rectification."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from stereo_nerf_core.io.calibration import infer_translation_unit, load_stereo_calibration
from stereo_nerf_core.io.datasets import read_rgb
from stereo_nerf_core.io.errors import CalibrationFileError
from tests.conftest import SHARED_DATA

D1K1 = SHARED_DATA / "scared_d1k1_raw_calib_rect"
needs_d1k1 = pytest.mark.skipif(not D1K1.exists(), reason=f"shared data {D1K1} is not beside this checkout")


@needs_d1k1
def test_scared_rectification_reproduces_the_third_party_crop() -> None:
    calibration = load_stereo_calibration(D1K1 / "calib" / "test_calib.json", alpha=-1.0)
    # README: f = 1035.0333 px, cx = 642.1875 (542.1875 + crop 100), cy = 520.7246, baseline 4.14346 mm
    assert calibration.fx == pytest.approx(1035.0333, abs=1e-3)
    assert calibration.K_rect[0, 2] == pytest.approx(642.1875, abs=1e-3)
    assert calibration.K_rect[1, 2] == pytest.approx(520.7246, abs=1e-3)
    assert calibration.baseline_m == pytest.approx(0.00414346, abs=1e-8)
    left, right = calibration.rectify(
        read_rgb(D1K1 / "raw" / "Left_Image.png"), read_rgb(D1K1 / "raw" / "Right_Image.png")
    )
    for rectified, name in ((left, "img_left"), (right, "img_right")):
        reference = read_rgb(D1K1 / "rect_sttr_crop1080" / name / "dataset_1_keyframe_1.png")
        difference = np.abs(rectified[:, 100:1180].astype(np.float64) - reference)
        assert difference.mean() < 1.0  # the bound; measured 0.05 grey levels
        assert difference.mean() < 0.1


def test_yaml_calibration_in_metres_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "rig.yaml"
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    K = np.array([[500.0, 0, 320], [0, 500, 256], [0, 0, 1]])
    for name, value in {"K1": K, "D1": np.zeros((1, 5)), "K2": K, "D2": np.zeros((1, 5)), "R": np.eye(3)}.items():
        storage.write(name, value)
    storage.write("T", np.array([[-0.12, 0.0, 0.0]]))
    storage.release()
    calibration = load_stereo_calibration(path, image_size=(640, 512))
    assert calibration.baseline_m == pytest.approx(0.12)  # |T| < 1: metres
    with pytest.raises(CalibrationFileError, match="no image_size entry"):
        load_stereo_calibration(path)
    with pytest.raises(CalibrationFileError, match="calibration file not found"):
        load_stereo_calibration(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.json"
    broken.write_text('{"K1": {"type_id": "opencv-matrix", "rows": 1, "cols": 1, "dt": "d", "data": [1.0]}}')
    with pytest.raises(CalibrationFileError, match="no D1 entry"):
        load_stereo_calibration(broken, image_size=(10, 10))
    with pytest.raises(CalibrationFileError, match="cannot tell the unit of T"):
        infer_translation_unit(np.array([500.0, 0, 0]))
