"""DTU MVS scans in the IDR/NeuS/MonoSDF format: ``NNNNNN_rgb.png`` views and ``cameras.npz``.

``cameras.npz`` holds, per view ``i``, ``world_mat_i`` (``[:3, :4] = P = K [R | t]`` at the original
1600x1200 resolution, DTU world in mm to pixels) and ``scale_mat_i`` (maps the unit sphere onto the
object region). As in IDR/NeuS, the normalised projection is ``P_n = world_mat @ scale_mat``: the
scene lives in (about) the unit sphere. Decomposing ``P_n = K [R | -R C]`` gives the intrinsics and
the pose ``T_world_camera = [[R^T, C], [0, 1]]`` of the OpenCV camera frame (x right, y down, z
forward) in the normalised world, which is our convention. The MonoSDF 384x384 images are the
centre 1200x1200 crop of the 1600x1200 originals resized to 384, so ``K[0, 2] -= 200`` then
``K[:2] *= 384 / 1200``. A further ``size`` resamples the images (area) and the intrinsics with the
pixel-centre convention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import decompose_projection
from stereo_nerf_core.io.datasets import read_rgb
from stereo_nerf_core.io.errors import DatasetError

Float = NDArray[np.float64]

CROP_OFFSET_PX = 200.0
"""Columns cut from the left of the 1600-wide originals by the centre crop."""
CROP_SIZE_PX = 1200.0
"""Side of the centre crop, in original pixels."""
_VIEW_NAME = re.compile(r"^(\d{6})_rgb\.png$")


@dataclass(frozen=True)
class DtuView:
    """One view: image, intrinsics and pose in the normalised (unit-sphere) world."""

    index: int
    rgb: NDArray[np.uint8]
    """(H, W, 3) RGB."""
    K: Float
    """(3, 3) intrinsics of ``rgb``."""
    T_world_camera: Float
    """(4, 4) OpenCV camera frame to normalised world."""


@dataclass(frozen=True)
class DtuScene:
    """The views of one scan and the transform back to DTU world units."""

    views: tuple[DtuView, ...]
    scale_mat: Float
    """(4, 4) normalised world to DTU world (mm)."""

    def split(self, *, hold_out_every: int = 8) -> tuple[list[DtuView], list[DtuView]]:
        """(training, held-out) views: every ``hold_out_every``-th view (index 0, 8, 16, ...) is held out."""
        if hold_out_every < 2:
            raise DatasetError(f"hold_out_every must be >= 2, got {hold_out_every}")
        held = [view for view in self.views if view.index % hold_out_every == 0]
        return [view for view in self.views if view.index % hold_out_every != 0], held


def crop_intrinsics(K: Float, size: int) -> Float:
    """Intrinsics of the centre-cropped, resized ``size`` x ``size`` image (MonoSDF ``center_crop_for_dtu``)."""
    adjusted = np.array(K, dtype=np.float64)
    adjusted[0, 2] -= CROP_OFFSET_PX
    adjusted[:2] *= size / CROP_SIZE_PX
    return adjusted


def resample_intrinsics(K: Float, source: int, target: int) -> Float:
    """Intrinsics of a square image resampled from ``source`` to ``target`` pixels (pixel-centre convention)."""
    scale = target / source
    resampled = np.array(K, dtype=np.float64)
    resampled[:2, :2] *= scale
    resampled[:2, 2] = (resampled[:2, 2] + 0.5) * scale - 0.5
    return resampled


def load_dtu_scan(folder: Path | str, *, size: int | None = None) -> DtuScene:
    """Every view of a MonoSDF-format DTU scan folder, optionally resampled to ``size`` x ``size``."""
    root = Path(folder)
    cameras_path = root / "cameras.npz"
    if not cameras_path.is_file():
        raise DatasetError(f"{cameras_path}: not found (expected a MonoSDF DTU scan folder)")
    if size is not None and size < 8:
        raise DatasetError(f"size must be >= 8 pixels, got {size}")
    cameras = np.load(cameras_path)
    indices = sorted(int(match.group(1)) for path in root.iterdir() if (match := _VIEW_NAME.match(path.name)))
    if not indices:
        raise DatasetError(f"{root}: no NNNNNN_rgb.png views")
    views = []
    scale_mat = np.eye(4)
    for index in indices:
        try:
            world_mat, scale_mat = cameras[f"world_mat_{index}"], cameras[f"scale_mat_{index}"]
        except KeyError as error:
            raise DatasetError(f"{cameras_path}: no world_mat_{index} / scale_mat_{index} for view {index}") from error
        rgb = read_rgb(root / f"{index:06d}_rgb.png")
        if rgb.shape[0] != rgb.shape[1]:
            raise DatasetError(f"{root / f'{index:06d}_rgb.png'}: expected a square centre crop, got {rgb.shape[:2]}")
        K_original, T_world_camera = decompose_projection((world_mat @ scale_mat)[:3, :4])
        K = crop_intrinsics(K_original, rgb.shape[0])
        if size is not None and size != rgb.shape[0]:
            K = resample_intrinsics(K, rgb.shape[0], size)
            rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        views.append(DtuView(index, rgb, K, T_world_camera))
    return DtuScene(tuple(views), np.asarray(scale_mat, dtype=np.float64))
