"""Small dataset folders the importer tests write themselves, and bag reading shortcuts."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.io.bag import BagMessage, read_messages

WIDTH, HEIGHT = 160, 128
FX, BASELINE_M, DEPTH_M = 100.0, 0.005, 0.05
DISPARITY_PX = int(FX * BASELINE_M / DEPTH_M)  # 10 px: a plane at DEPTH_M
ROW_DISPARITY = DISPARITY_PX - 1 + (np.arange(HEIGHT) * 3) // HEIGHT
"""Disparity (px) of each row of the synthetic study scene: a staircase plane at 9, 10 and 11 px."""
SCENE_DEPTH_M = np.repeat((FX * BASELINE_M / ROW_DISPARITY)[:, None], WIDTH, axis=1).astype(np.float32)
"""(H, W) Z of the synthetic study scene (45-56 mm)."""


def texture(width: int, height: int, seed: int) -> NDArray[np.uint8]:
    """Smooth random RGB texture that block matching locks onto."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height, width, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 1.2)
    stretched = (blurred - blurred.min()) / (blurred.max() - blurred.min()) * 235 + 10
    return stretched.astype(np.uint8)


def stereo_scene(seed: int) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """A rectified pair of a textured scene with row disparities ROW_DISPARITY: ``right(u) = left(u + d)``."""
    wide = texture(WIDTH + int(ROW_DISPARITY.max()), HEIGHT, seed)
    right = np.stack([wide[v, d : d + WIDTH] for v, d in enumerate(ROW_DISPARITY)])
    return np.ascontiguousarray(wide[:, :WIDTH]), right


def write_rgb(path: Path, rgb: NDArray[np.uint8]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def write_gray(path: Path, values: NDArray[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), values)
    return path


def write_study(root: Path, frames: int = 3, *, depth: bool = True, masks: bool = True) -> Path:
    """``root/l/images``, ``root/r/images`` (:func:`stereo_scene`), truth in l/depth (.npy m), masks."""
    for index in range(frames):
        left, right = stereo_scene(seed=index)
        name = f"{index:06d}.png"
        write_rgb(root / "l" / "images" / name, left)
        write_rgb(root / "r" / "images" / name, right)
        if depth:
            (root / "l" / "depth").mkdir(parents=True, exist_ok=True)
            np.save(root / "l" / "depth" / f"{index:06d}.npy", SCENE_DEPTH_M)
        if masks:
            mask = np.zeros((HEIGHT, WIDTH), np.uint8)
            mask[:20, -30:] = 255  # an instrument in the upper-right corner
            write_gray(root / "mask_l" / name, mask)
            write_gray(root / "mask_r" / name, mask)
    return root


def write_stereo_yaml(
    path: Path, calibration: StereoCalibration, R: NDArray[np.float64], T_mm: NDArray[np.float64]
) -> Path:
    """An OpenCV FileStorage stereo calibration (K1 D1 K2 D2 R T, T in mm) of ``calibration``'s raw cameras."""
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    left, right = calibration.left.camera, calibration.right.camera
    for name, value in (("K1", left.K), ("D1", left.D), ("K2", right.K), ("D2", right.D), ("R", R), ("T", T_mm)):
        storage.write(name, np.asarray(value, dtype=np.float64))
    storage.release()
    return path


ENDONERF_W, ENDONERF_H, ENDONERF_FOCAL = 64, 48, 50.0
# A camera at (1, 2, 3) looking along world +x with world -z "down" (so its right is world -y), as
# LLFF stores it: columns (down, right, backwards, centre).
LLFF_POSE = np.array([[0.0, 0.0, -1.0, 1.0], [0.0, -1.0, 0.0, 2.0], [-1.0, 0.0, 0.0, 3.0]])


def endonerf_poses_bounds(
    poses: list[np.ndarray], hwf: tuple[float, float, float] = (ENDONERF_H, ENDONERF_W, ENDONERF_FOCAL)
) -> np.ndarray:
    """An LLFF ``poses_bounds.npy`` array (N x 17) of 3x4 poses, one hwf, bounds 0.03 and 0.2."""
    rows = [np.concatenate([np.hstack([pose, np.reshape(hwf, (3, 1))]).ravel(), [0.03, 0.2]]) for pose in poses]
    return np.asarray(rows)


def write_endonerf(root: Path, frames: int = 3) -> Path:
    """``images/``, ``depth/`` (uint16 mm), ``masks/`` (255 = tool) and ``poses_bounds.npy``, EndoNeRF's names."""
    identity = np.hstack([np.eye(3), np.zeros((3, 1))])
    poses = [LLFF_POSE if index == 1 else identity for index in range(frames)]
    root.mkdir(parents=True)
    np.save(root / "poses_bounds.npy", endonerf_poses_bounds(poses))
    for index in range(frames):
        write_rgb(root / "images" / f"frame-{index:06d}.color.png", texture(ENDONERF_W, ENDONERF_H, seed=index))
        depth = np.full((ENDONERF_H, ENDONERF_W), 80 + index, np.uint16)
        depth[0, 0] = 0
        write_gray(root / "depth" / f"frame-{index:06d}.depth.png", depth)
        mask = np.zeros((ENDONERF_H, ENDONERF_W), np.uint8)
        mask[-10:, :12] = 255
        write_gray(root / "masks" / f"frame-{index:06d}.mask.png", mask)
    return root


def messages_by_topic(bag: Path) -> dict[str, list[BagMessage]]:
    grouped: dict[str, list[BagMessage]] = defaultdict(list)
    for message in read_messages(bag):
        grouped[message.topic].append(message)
    return dict(grouped)


def custom_data(bag: Path) -> dict[str, str]:
    import yaml

    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())
    return dict(metadata["rosbag2_bagfile_information"]["custom_data"])
