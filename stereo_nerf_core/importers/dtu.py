"""DTU MVS scans in the IDR/NeuS/MonoSDF format: multi-view monocular images with calibrated cameras.

::

    <scan>/NNNNNN_rgb.png   views (MonoSDF: index from the name), or <scan>/image/*.png (IDR/NeuS: sorted order)
    <scan>/cameras.npz      world_mat_<i> ([:3, :4] = P = K [R | t], DTU world in mm -> pixels of the
                            1600x1200 original) and scale_mat_<i> (unit sphere -> object region, mm)

Each view becomes one frame of a left-only bag: its image, a camera_info with its own K (no
distortion, R = I, P = [K | 0]) and its pose on /tf. ``P = K [R | -R C]`` is decomposed
(``cv2.decomposeProjectionMatrix``) into K and ``T_world_camera = [[R^T, C], [0, 1]]``; DTU's camera
frame is OpenCV's (x right, y down, z forward), ours. World: ``metric`` (default) is DTU's world in
metres (mm / 1000); ``normalised`` is the IDR unit sphere (``P = world_mat @ scale_mat``, unitless).
MonoSDF's square images are the centre 1200x1200 crop of the 1600x1200 originals resized, so
``K[0, 2] -= 200`` then ``K[:2] *= size / 1200``; 1600x1200 images keep K.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, decompose_projection
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.files import IMAGE_SUFFIXES, list_files, read_rgb, require_file, require_folder
from stereo_nerf_core.importers.writer import ImportedFrame, Recording

World = Literal["metric", "normalised"]
WORLDS: tuple[World, ...] = ("metric", "normalised")
ORIGINAL_SIZE = (1600, 1200)
CROP_OFFSET_PX = 200.0
CROP_SIZE_PX = 1200.0
_VIEW_NAME = re.compile(r"^(\d+)_rgb\.png$")


def image_intrinsics(K_original: NDArray[np.float64], width: int, height: int, image: Path) -> NDArray[np.float64]:
    """K of an image: the 1600x1200 original as is, a square MonoSDF centre crop adjusted."""
    if (width, height) == ORIGINAL_SIZE:
        return K_original.copy()
    if width != height:
        raise ImporterError(
            f"{image}: image is {width}x{height}; DTU views are 1600x1200 originals or square MonoSDF centre crops"
        )
    K = K_original.copy()
    K[0, 2] -= CROP_OFFSET_PX
    K[:2] *= width / CROP_SIZE_PX
    return K


def dtu_views(root: Path) -> list[tuple[int, Path]]:
    """(camera index, image) of every view: ``NNNNNN_rgb.png`` by index, else ``image/*`` in sorted order."""
    named = sorted((int(match.group(1)), path) for path in root.iterdir() if (match := _VIEW_NAME.match(path.name)))
    if named:
        return named
    if (root / "image").is_dir():
        return list(enumerate(list_files(root / "image", IMAGE_SUFFIXES, "the DTU views")))
    raise ImporterError(f"{root}: no NNNNNN_rgb.png views (MonoSDF) and no image/ folder (IDR/NeuS)")


def load_dtu(source: Path, *, world: World = "metric") -> Recording:
    """A DTU scan folder as a left-only :class:`Recording`: one frame per view, poses on /tf."""
    root = require_folder(source, "a DTU scan folder (NNNNNN_rgb.png views and cameras.npz)")
    if world not in WORLDS:
        raise ImporterError(f"unknown DTU world {world!r}: use {' or '.join(WORLDS)}")
    cameras_path = require_file(root / "cameras.npz", "IDR/NeuS cameras.npz (world_mat_i, scale_mat_i)")
    views = dtu_views(root)
    try:
        cameras = dict(np.load(cameras_path, allow_pickle=False))
    except (OSError, ValueError) as error:
        raise ImporterError(f"{cameras_path}: not a readable .npz archive ({error})") from error
    projections, scale_mats = [], []
    for index, _ in views:
        names = [f"world_mat_{index}"] + ([f"scale_mat_{index}"] if world == "normalised" else [])
        missing = [name for name in names if name not in cameras]
        if missing:
            raise ImporterError(f"{cameras_path}: no {' / '.join(missing)} for view {index}")
        world_mat = np.asarray(cameras[f"world_mat_{index}"], dtype=np.float64)
        scale_mat = np.asarray(cameras.get(f"scale_mat_{index}", np.eye(4)), dtype=np.float64)
        projections.append((world_mat @ scale_mat if world == "normalised" else world_mat)[:3, :4])
        scale_mats.append(scale_mat)
    decomposed = [decompose_projection(P) for P in projections]
    unit = 1e-3 if world == "metric" else 1.0

    def load(frame: int) -> ImportedFrame:
        index, path = views[frame]
        rgb = read_rgb(path)
        height, width = rgb.shape[:2]
        K_original, T_world_camera = decomposed[frame]
        K = image_intrinsics(K_original, width, height, path)
        try:
            view = RectifiedView(PinholeCamera(width, height, K), np.eye(3), np.hstack([K, np.zeros((3, 1))]))
        except GeometryError as error:
            raise ImporterError(f"{cameras_path}: world_mat_{index}: {error}") from error
        T = T_world_camera.copy()
        T[:3, 3] *= unit
        return ImportedFrame(left=rgb, T_world_left=T, left_view=view)

    return Recording(
        format="dtu",
        source=root,
        left_images=tuple(path for _, path in views),
        load=load,
        pose_source=f"{cameras_path.name} (calibrated DTU cameras, {world} world"
        + (", metres)" if world == "metric" else ", IDR unit sphere)"),
        custom_data={
            "stereo_nerf.dtu.world": world,
            "stereo_nerf.dtu.view_indices": json.dumps([index for index, _ in views]),
            "stereo_nerf.dtu.scale_mat": json.dumps(np.round(scale_mats[0], 9).tolist()),
        },
    )
