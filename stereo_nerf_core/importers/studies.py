"""Our studies' folder layout: a stereo sequence with optional truth, instrument masks and splits.

::

    <exp>/l/images/*.png          left images (sorted by name = frame order)
    <exp>/r/images/*.png          right images (as many as left; paired by sorted position)
    <exp>/l/depth/*               optional ground-truth depth, left raw grid: uint16 PNG in mm, or .npy in m
    <exp>/l/disparity/*           optional ground-truth disparity (used when there is no l/depth):
                                  uint16 PNG in 1/256 px, or float .npy / .pfm in px, on the RECTIFIED
                                  left grid of the calibration (the image grid for --rectified pairs)
    <exp>/mask_l/*, <exp>/mask_r/*  optional instrument masks, non-zero = instrument
    <exp>/train.txt, <exp>/test.txt optional frame lists: one left image name, stem or 0-based index per line

Truth, mask and image files are matched by stem (else by sorted position when the counts agree); a
frame without one simply has none. 0 / NaN / non-finite values are "no truth". The splits go into the
bag's ``metadata.yaml`` ``custom_data`` as ``stereo_nerf.splits`` (JSON ``{"train": [names], ...}``).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.importers.calibration import RectifiedPair, left_grid_is_rectified, stereo_calibration
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.files import (
    DEPTH_SUFFIXES,
    DISPARITY_SUFFIXES,
    IMAGE_SUFFIXES,
    check_size,
    list_files,
    match_by_stem,
    read_depth,
    read_disparity,
    read_mask,
    read_rgb,
    require_folder,
)
from stereo_nerf_core.importers.writer import ImportedFrame, Recording, rig_transform

SPLITS = ("train", "test")


def rectified_depth_to_raw(calibration: StereoCalibration, depth_rect: NDArray[np.floating]) -> NDArray[np.float32]:
    """Z of the left raw frame on the left raw grid, from Z of the rectified frame on the rectified grid.

    Each raw pixel's undistorted ray is rotated into the rectified frame, projected with the left P
    and the rectified depth read there (nearest pixel, no blending across edges); NaN where none.
    """
    rays = calibration.left.camera.pixel_rays() @ calibration.left.R.T
    P = calibration.left.P
    u = (P[0, 0] * rays[:, :, 0] + P[0, 1] * rays[:, :, 1]) / rays[:, :, 2] + P[0, 2]
    v = P[1, 1] * rays[:, :, 1] / rays[:, :, 2] + P[1, 2]
    source = np.where(np.isfinite(depth_rect) & (depth_rect > 0), depth_rect, np.nan).astype(np.float32)
    z_rect = cv2.remap(source, u.astype(np.float32), v.astype(np.float32), cv2.INTER_NEAREST, borderValue=float("nan"))
    z_raw = z_rect / rays[:, :, 2]  # the raw ray has z = 1: the point is z_rect / (R ray)_z times it
    return np.where(np.isfinite(z_raw) & (z_raw > 0), z_raw, np.nan).astype(np.float32)


def read_splits(exp: Path, images: list[Path]) -> dict[str, list[str]]:
    """The frame lists of ``train.txt`` / ``test.txt`` as left image names (only the files that exist)."""
    by_key: dict[str, Path] = {}
    for image in images:
        by_key.setdefault(image.name, image)
        by_key.setdefault(image.stem, image)
    splits: dict[str, list[str]] = {}
    for split in SPLITS:
        path = exp / f"{split}.txt"
        if not path.is_file():
            continue
        names = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            name = Path(entry).name
            found = by_key.get(name) or by_key.get(Path(name).stem)
            if found is None and entry.isdigit() and int(entry) < len(images):
                found = images[int(entry)]
            if found is None:
                raise ImporterError(
                    f"{path}:{number}: {entry!r} names no frame of l/images (use a file name, stem or 0-based index)"
                )
            names.append(found.name)
        splits[split] = names
    return splits


def _optional(folder: Path, images: list[Path], suffixes: tuple[str, ...], what: str) -> list[Path | None] | None:
    return match_by_stem(images, folder, suffixes, what) if folder.is_dir() else None


def load_studies(
    source: Path,
    *,
    calibration_file: Path | None = None,
    rectified: RectifiedPair | None = None,
    alpha: float = 0.0,
) -> Recording:
    """A study folder as a stereo :class:`Recording` (images are read when each frame is written)."""
    exp = require_folder(source, "a study folder with l/images and r/images")
    left = list_files(exp / "l" / "images", IMAGE_SUFFIXES, "the left images of the study")
    right = list_files(exp / "r" / "images", IMAGE_SUFFIXES, "the right images of the study")
    if len(left) != len(right):
        raise ImporterError(
            f"{exp}: {len(left)} left images in l/images but {len(right)} right images in r/images "
            "(pairs are matched by sorted position: the counts must agree)"
        )
    first = read_rgb(left[0])
    calibration = stereo_calibration(
        calibration_file=calibration_file,
        rectified=rectified,
        image_size=(first.shape[1], first.shape[0]),
        image=left[0],
        alpha=alpha,
    )
    size = calibration.size
    masks_left = _optional(exp / "mask_l", left, IMAGE_SUFFIXES, "left instrument masks")
    masks_right = _optional(exp / "mask_r", right, IMAGE_SUFFIXES, "right instrument masks")
    depths = _optional(exp / "l" / "depth", left, DEPTH_SUFFIXES, "ground-truth depth maps")
    disparities = None if depths else _optional(exp / "l" / "disparity", left, DISPARITY_SUFFIXES, "disparity maps")
    raw_is_rectified = left_grid_is_rectified(calibration)
    notes = []
    if depths and (exp / "l" / "disparity").is_dir():
        notes.append("l/depth and l/disparity both present: ground truth taken from l/depth")

    def ground_truth(index: int) -> NDArray[np.float32] | None:
        if depths is not None and (path := depths[index]) is not None:
            depth = read_depth(path)
            check_size(path, depth, size, "the calibration")
            return depth
        if disparities is not None and (path := disparities[index]) is not None:
            disparity = read_disparity(path)
            check_size(path, disparity, size, "the calibration")
            depth = calibration.depth_from_disparity(np.nan_to_num(disparity, nan=0.0))
            depth = np.where(depth > 0, depth, np.nan).astype(np.float32)
            return depth if raw_is_rectified else rectified_depth_to_raw(calibration, depth)
        return None

    def mask(masks: list[Path | None] | None, index: int) -> NDArray[np.bool_] | None:
        if masks is None or (path := masks[index]) is None:
            return None
        values = read_mask(path)
        check_size(path, values, size, "the calibration")
        return values

    def load(index: int) -> ImportedFrame:
        images = []
        for path in (left[index], right[index]):
            rgb = first if index == 0 and path == left[0] else read_rgb(path)
            check_size(path, rgb, size, "the calibration")
            images.append(rgb)
        return ImportedFrame(
            left=images[0],
            right=images[1],
            left_mask=mask(masks_left, index),
            right_mask=mask(masks_right, index),
            ground_truth_depth=ground_truth(index),
        )

    splits = read_splits(exp, left)
    custom = {"stereo_nerf.splits": json.dumps(splits)} if splits else {}
    return Recording(
        format="studies",
        source=exp,
        left_images=tuple(left),
        load=load,
        left_view=calibration.left,
        right_view=calibration.right,
        T_left_right=rig_transform(calibration),
        custom_data=custom,
        notes=tuple(notes),
    )
