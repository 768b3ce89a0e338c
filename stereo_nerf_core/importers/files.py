"""Reading the files the importers meet: image folders, masks, depth and disparity maps.

Every reader raises :class:`ImporterError` naming the file. Depth comes back as float32 metres
with NaN where there is none; disparity as float32 pixels with NaN where there is none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.io.datasets import read_rgb as read_image_rgb

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DEPTH_SUFFIXES = (".png", ".npy")
DISPARITY_SUFFIXES = (".png", ".npy", ".pfm")


def require_folder(folder: Path, what: str) -> Path:
    """``folder`` if it is a directory, else an error naming it and what it should hold."""
    if not folder.is_dir():
        raise ImporterError(f"{folder}: no such folder (expected {what})")
    return folder


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else an error naming it and what it should be."""
    if not path.is_file():
        raise ImporterError(f"{path}: no such file (expected {what})")
    return path


def list_files(folder: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    """Files of ``folder`` with one of ``suffixes`` (case-insensitive), sorted by name; at least one."""
    require_folder(folder, what)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise ImporterError(f"{folder}: no {'/'.join(suffixes)} files (expected {what})")
    return files


def match_by_stem(images: list[Path], folder: Path, suffixes: tuple[str, ...], what: str) -> list[Path | None]:
    """For each image, the file of ``folder`` with the same stem, else the one at the same sorted position.

    Position is used only when ``folder`` holds exactly as many files as there are images; images
    without a match get None.
    """
    files = list_files(folder, suffixes, what)
    by_stem = {p.stem: p for p in files}
    if any(image.stem in by_stem for image in images):
        return [by_stem.get(image.stem) for image in images]
    if len(files) == len(images):
        return list(files)
    raise ImporterError(
        f"{folder}: {len(files)} files whose names match none of the {len(images)} images "
        f"(expected {what}, named like the images or one per image)"
    )


def read_rgb(path: Path) -> NDArray[np.uint8]:
    """An 8-bit colour (or grey) image file as RGB (H, W, 3); ImporterError naming it when unreadable."""
    return read_image_rgb(path, error=ImporterError)


def read_raw(path: Path) -> NDArray[Any]:
    """An image file with its own depth and channels (16-bit PNG, float TIFF/PFM)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImporterError(f"{path}: not a readable image")
    return np.asarray(image)


def read_mask(path: Path, *, threshold: int = 0, invert: bool = False) -> NDArray[np.bool_]:
    """A mask image as bool (H, W): True where any channel is above ``threshold`` (inverted on request)."""
    image = read_raw(path)
    values = image if image.ndim == 2 else image[:, :, :3].max(axis=2)
    mask = np.asarray(values > threshold)
    return ~mask if invert else mask


def read_single_channel(path: Path) -> NDArray[np.float32]:
    """A single-channel map from .npy, .pfm or an image file, as float32 (H, W)."""
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ImporterError(f"{path}: not a readable .npy array ({error})") from error
    else:
        array = read_raw(path)
    array = np.squeeze(np.asarray(array))
    if array.ndim != 2:
        raise ImporterError(f"{path}: expected a single-channel map, got shape {array.shape}")
    return array.astype(np.float32)


def read_depth(path: Path, *, png_units_per_m: float = 1000.0) -> NDArray[np.float32]:
    """Depth in metres: a 16-bit (or 8-bit) PNG in ``1 / png_units_per_m`` m, or a float .npy in metres."""
    suffix = path.suffix.lower()
    if suffix not in DEPTH_SUFFIXES:
        raise ImporterError(f"{path}: unsupported depth file (use {' or '.join(DEPTH_SUFFIXES)})")
    if suffix == ".png":
        raw = read_raw(path)
        if raw.dtype not in (np.uint8, np.uint16) or raw.ndim != 2:
            raise ImporterError(
                f"{path}: expected a single-channel 8- or 16-bit depth PNG, got {raw.dtype} {raw.shape}"
            )
        depth = raw.astype(np.float32) / np.float32(png_units_per_m)
    else:
        depth = read_single_channel(path)
    return np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype(np.float32)


def read_disparity(path: Path) -> NDArray[np.float32]:
    """Disparity in pixels: a 16-bit PNG in 1/256 px (KITTI), or a float .npy / .pfm in pixels."""
    suffix = path.suffix.lower()
    if suffix not in DISPARITY_SUFFIXES:
        raise ImporterError(f"{path}: unsupported disparity file (use {', '.join(DISPARITY_SUFFIXES)})")
    if suffix == ".png":
        raw = read_raw(path)
        if raw.dtype != np.uint16 or raw.ndim != 2:
            raise ImporterError(f"{path}: expected a single-channel 16-bit disparity PNG, got {raw.dtype} {raw.shape}")
        disparity = raw.astype(np.float32) / np.float32(256.0)
    else:
        disparity = read_single_channel(path)
    return np.where(np.isfinite(disparity) & (disparity > 0), disparity, np.nan).astype(np.float32)


def check_size(path: Path, array: NDArray[Any], size: tuple[int, int], what: str) -> None:
    """Error naming ``path`` unless ``array`` is ``size`` = (width, height)."""
    height, width = array.shape[:2]
    if (width, height) != tuple(size):
        raise ImporterError(f"{path}: image is {width}x{height} but {what} is {size[0]}x{size[1]}")
