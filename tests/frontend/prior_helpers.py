"""Hand-checkable stereo pairs for the depth prior tests: textured planes at a known disparity."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import StereoCalibration

FX = 160.0
BASELINE_M = 0.0041


def rig(width: int = 192, height: int = 144) -> StereoCalibration:
    """An already rectified rig: f 160 px, baseline 4.1 mm (depth = 0.656 / disparity)."""
    return StereoCalibration.rectified(width, height, fx=FX, baseline_m=BASELINE_M)


def texture(height: int, width: int, *, seed: int = 7, blur: float = 1.2) -> NDArray[np.float32]:
    """Smooth random texture in [20, 235]."""
    rng = np.random.default_rng(seed)
    values = cv2.GaussianBlur(rng.uniform(0, 255, (height, width)).astype(np.float32), (0, 0), blur)
    return cv2.normalize(values, None, 20, 235, cv2.NORM_MINMAX)


def plane_pair(
    disparity: float, shape: tuple[int, int] = (144, 192), *, vertical_px: float = 0.0, rgb: bool = False, seed: int = 7
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """A fronto-parallel textured plane: ``right(x, y) = left(x + d, y + vertical_px)``."""
    height, width = shape
    margin = 64
    source = texture(height + 2 * margin, width + 2 * margin, seed=seed)
    u, v = np.meshgrid(np.arange(width, dtype=np.float32) + margin, np.arange(height, dtype=np.float32) + margin)
    left = cv2.remap(source, u, v, cv2.INTER_CUBIC)
    right = cv2.remap(source, u + np.float32(disparity), v + np.float32(vertical_px), cv2.INTER_CUBIC)
    left_u8, right_u8 = np.clip(left, 0, 255).astype(np.uint8), np.clip(right, 0, 255).astype(np.uint8)
    if rgb:
        tint = np.array([1.0, 0.55, 0.5], np.float32)
        return (
            np.clip(left_u8[..., None] * tint, 0, 255).astype(np.uint8),
            np.clip(right_u8[..., None] * tint, 0, 255).astype(np.uint8),
        )
    return left_u8, right_u8
