"""EndoNeRF's folder layout (med-air/EndoNeRF): a monocular (left) sequence with a stereo depth prior.

::

    <root>/images/*.png        left images (sorted by name = frame order); EndoNeRF has no right images
    <root>/depth/*.png         optional stereo depth (STTR-light in EndoNeRF): Z = value / depth_scale metres
    <root>/masks/*.png         optional tool masks (``gt_masks/`` also accepted): 255 = tool, 0 = tissue
    <root>/poses_bounds.npy    LLFF: N x 17 = 3x5 [R | t | (H, W, focal)] per frame, then near and far bounds

Conventions, checked against EndoNeRF's loader (``load_llff.py``) and its followers:

- masks: the loader reads ``mask / 255`` and flips it "to 0 for tool, 1 for not tool", so the FILES
  hold 255 on tools (``--invert-masks`` for sets that store 0 on tools); a pixel is a tool above 127.
- depth: read as is (no inverse) and used as Z along the optical axis (EndoNeRF's depth loss compares
  it with ``1 / disparity`` of the render; EndoGaussian back-projects it with K). Its unit is not
  stated anywhere; we assume millimetres (``depth_scale`` 1000 values per metre; tissue at
  30-150 mm fits an 8-bit PNG). Pass another ``depth_scale`` if a set says otherwise. 0 = none.
- intrinsics: ``K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` from hwf (EndoNeRF's rays are
  ``(u - W/2) / f``), no distortion; f is scaled when the images are a resized copy of (H, W).
- poses: LLFF stores camera-to-world with columns (down, right, backwards); our optical frame is
  (right, down, forward), so ``R_ours = [c1, c0, -c2]`` and t is kept (``pose_convention="llff"``).
  EndoNeRF's own loader skips LLFF's column swap for its da Vinci data, i.e. it reads the columns
  as OpenGL's (right, up, backwards): ``pose_convention="opengl"`` (the default, for parity with EndoNeRF and
  EndoGaussian) gives ``R_ours = [c0, -c1, -c2]``.
  EndoNeRF's released poses are all identity ("to avoid interference of ill-calibrated poses"), where
  the two only differ by a fixed rotation of ``world``. They are fixed/estimated camera poses, not
  ground truth: they go on /tf as the pose source, never on /ground_truth/pose.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView
from stereo_nerf_core.geometry.transforms import make_se3
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.files import (
    DEPTH_SUFFIXES,
    IMAGE_SUFFIXES,
    check_size,
    list_files,
    match_by_stem,
    read_depth,
    read_mask,
    read_rgb,
    require_file,
    require_folder,
)
from stereo_nerf_core.importers.writer import ImportedFrame, Recording

PoseConvention = Literal["llff", "opengl"]
POSE_CONVENTIONS: tuple[PoseConvention, ...] = ("llff", "opengl")
DEFAULT_DEPTH_SCALE = 1000.0
"""Depth PNG values per metre (millimetres), our assumption for EndoNeRF's depth maps."""
MASK_THRESHOLD = 127


def llff_to_optical(pose: NDArray[np.floating], convention: PoseConvention = "llff") -> NDArray[np.float64]:
    """``T_world_camera`` (4, 4) of our optical frame from one 3x4 (or 3x5) camera-to-world LLFF pose."""
    matrix = np.asarray(pose, dtype=np.float64)
    if matrix.shape not in ((3, 4), (3, 5)):
        raise ImporterError(f"an LLFF pose is 3x5 (or 3x4), got {matrix.shape}")
    c0, c1, c2 = matrix[:, 0], matrix[:, 1], matrix[:, 2]
    if convention == "llff":
        rotation = np.stack([c1, c0, -c2], axis=1)  # (down, right, back) -> (right, down, forward)
    elif convention == "opengl":
        rotation = np.stack([c0, -c1, -c2], axis=1)  # (right, up, back) -> (right, down, forward)
    else:
        raise ImporterError(f"unknown pose convention {convention!r}: use {' or '.join(POSE_CONVENTIONS)}")
    return make_se3(rotation, matrix[:, 3])


def read_poses_bounds(path: Path) -> NDArray[np.float64]:
    """The N x 17 array of ``poses_bounds.npy``."""
    require_file(path, "EndoNeRF's LLFF poses_bounds.npy (N x 17)")
    try:
        array = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
    except (OSError, ValueError) as error:
        raise ImporterError(f"{path}: not a readable .npy array ({error})") from error
    if array.ndim != 2 or array.shape[1] != 17 or not np.all(np.isfinite(array)):
        raise ImporterError(f"{path}: expected a finite N x 17 LLFF array, got shape {array.shape}")
    return array


def endonerf_camera(
    poses_bounds: Path, hwf: NDArray[np.float64], image: Path, width: int, height: int
) -> RectifiedView:
    """The pinhole camera of hwf for images of ``width`` x ``height`` (a resized copy scales f)."""
    H, W, focal = (float(v) for v in hwf)
    scale = width / W
    if H <= 0 or W <= 0 or focal <= 0 or abs(height / H - scale) > 0.01 * scale:
        raise ImporterError(
            f"{image}: image is {width}x{height} but {poses_bounds} says {W:g}x{H:g} (focal {focal:g}); "
            "the images must be the poses' size or a uniformly resized copy"
        )
    K = np.array([[focal * scale, 0.0, width / 2.0], [0.0, focal * scale, height / 2.0], [0.0, 0.0, 1.0]])
    return RectifiedView(PinholeCamera(width, height, K), np.eye(3), np.hstack([K, np.zeros((3, 1))]))


def load_endonerf(
    source: Path,
    *,
    depth_scale: float = DEFAULT_DEPTH_SCALE,
    invert_masks: bool = False,
    pose_convention: PoseConvention = "opengl",
) -> Recording:
    """An EndoNeRF folder as a left-only :class:`Recording` with poses on /tf and a depth prior."""
    root = require_folder(source, "an EndoNeRF folder with images/ and poses_bounds.npy")
    if not np.isfinite(depth_scale) or depth_scale <= 0:
        raise ImporterError(f"--depth-scale must be a positive number of PNG values per metre, got {depth_scale}")
    images = list_files(root / "images", IMAGE_SUFFIXES, "EndoNeRF's rgb images")
    poses_path = root / "poses_bounds.npy"
    array = read_poses_bounds(poses_path)
    if len(array) != len(images):
        raise ImporterError(
            f"{root}: {len(images)} images in images/ but {len(array)} poses in poses_bounds.npy (one per image)"
        )
    poses = array[:, :15].reshape(-1, 3, 5)
    first = read_rgb(images[0])
    view = endonerf_camera(poses_path, poses[0, :, 4], images[0], first.shape[1], first.shape[0])
    T_world = [llff_to_optical(pose, pose_convention) for pose in poses]
    depth_folder = root / "depth"
    depths = match_by_stem(images, depth_folder, DEPTH_SUFFIXES, "depth maps") if depth_folder.is_dir() else None
    mask_folder = next((root / name for name in ("masks", "gt_masks") if (root / name).is_dir()), None)
    masks = None if mask_folder is None else match_by_stem(images, mask_folder, IMAGE_SUFFIXES, "tool masks")

    def load(index: int) -> ImportedFrame:
        path = images[index]
        rgb = first if index == 0 else read_rgb(path)
        check_size(path, rgb, view.camera.size, f"the camera of {poses_path.name}")
        mask = depth = None
        if masks is not None and (mask_path := masks[index]) is not None:
            mask = read_mask(mask_path, threshold=MASK_THRESHOLD, invert=invert_masks)
            check_size(mask_path, mask, view.camera.size, "the image")
        if depths is not None and (depth_path := depths[index]) is not None:
            depth = read_depth(depth_path, png_units_per_m=depth_scale)
            check_size(depth_path, depth, view.camera.size, "the image")
        return ImportedFrame(left=rgb, left_mask=mask, depth_prior=depth, T_world_left=T_world[index])

    near, far = float(array[:, 15].min()), float(array[:, 16].max())
    return Recording(
        format="endonerf",
        source=root,
        left_images=tuple(images),
        load=load,
        left_view=view,
        pose_source=f"{poses_path.name} ({pose_convention} axes; EndoNeRF's fixed/estimated poses, not ground truth)",
        custom_data={
            "stereo_nerf.endonerf.depth_scale": f"{depth_scale:g}",
            "stereo_nerf.endonerf.bounds": f"{near:g} {far:g}",
            **endonerf_splits([path.name for path in images]),
        },
        notes=(
            f"depth prior = depth PNG / {depth_scale:g} m (assumed unit; EndoNeRF does not state it)",
            "masks: " + ("0" if invert_masks else "255") + " = tool in the files",
        ),
    )


def endonerf_held_out(index: int) -> bool:
    """EndoNeRF's protocol: frame ``index`` is a test frame when ``(index - 1) % 8 == 0`` (1, 9, 17, ...)."""
    return (index - 1) % 8 == 0


def endonerf_splits(names: Sequence[str]) -> dict[str, str]:
    """``custom_data`` with EndoNeRF's split of frames ``names`` (in recording order): the replay holds out the
    test frames (:mod:`stereo_nerf_core.pipeline.splits`) as the papers on these clips do."""
    test = [name for index, name in enumerate(names) if endonerf_held_out(index)]
    train = [name for index, name in enumerate(names) if not endonerf_held_out(index)]
    return {"stereo_nerf.splits": json.dumps({"train": train, "test": test})}
