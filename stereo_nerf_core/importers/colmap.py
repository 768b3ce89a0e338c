"""COLMAP reconstructions as the pose source of any import (``--poses-from-colmap DIR``).

``DIR`` holds ``cameras``, ``images`` and ``points3D`` (``.bin`` or ``.txt``; newer COLMAP also
``rigs`` and ``frames``), read with ``pycolmap.Reconstruction(DIR)``. Each registered image's
``cam_from_world`` ([R | t], x_cam = R x_world + t, COLMAP's camera frame is OpenCV's: x right, y
down, z forward) is inverted into our ``T_world_left``. Images are matched to frames by the left
image's file name: the COLMAP name equal to the longest trailing part of the image's path inside
the source folder (``l/images/000001.png``, ``images/000001.png``, ``000001.png``), else the one
COLMAP image with that base name. Poses replace the format's own and go on /tf, not ground truth;
frames COLMAP did not register get none. COLMAP's scale is arbitrary unless the reconstruction was
made metric (scaled to a known distance, or built with a metric rig).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.transforms import invert_se3
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.files import require_folder
from stereo_nerf_core.importers.writer import ImportedFrame, Recording

SCALE_NOTE = "arbitrary scale unless the reconstruction was made metric"


def read_colmap_poses(folder: Path) -> dict[str, NDArray[np.float64]]:
    """COLMAP image name -> ``T_world_camera`` (4, 4) of every registered image of the reconstruction."""
    import pycolmap

    require_folder(folder, "a COLMAP reconstruction (cameras, images, points3D as .bin or .txt)")
    try:
        reconstruction = pycolmap.Reconstruction(str(folder))
    except (ValueError, RuntimeError) as error:
        raise ImporterError(
            f"{folder}: not a readable COLMAP reconstruction (cameras, images, points3D as .bin or .txt): {error}"
        ) from error
    poses = {}
    for image in reconstruction.images.values():
        if not image.has_pose:
            continue
        cam_from_world = np.vstack([np.asarray(image.cam_from_world().matrix(), dtype=np.float64), [0, 0, 0, 1]])
        poses[str(image.name)] = invert_se3(cam_from_world)
    if not poses:
        raise ImporterError(f"{folder}: the COLMAP reconstruction has no registered image")
    return poses


def match_frames(names: Sequence[str], images: Sequence[Path], root: Path) -> dict[int, str]:
    """Frame index -> COLMAP image name, for the frames whose left image matches one (see module doc)."""
    base_counts = Counter(PurePosixPath(name).name for name in names)
    by_base = {PurePosixPath(name).name: name for name in names if base_counts[PurePosixPath(name).name] == 1}
    known = set(names)
    matched = {}
    for index, image in enumerate(images):
        try:
            parts = image.resolve().relative_to(root.resolve()).parts
        except ValueError:
            parts = (image.name,)
        candidates = ["/".join(parts[start:]) for start in range(len(parts))]
        name = next((candidate for candidate in candidates if candidate in known), None) or by_base.get(image.name)
        if name is not None:
            matched[index] = name
    return matched


def with_colmap_poses(recording: Recording, folder: Path) -> Recording:
    """``recording`` with its poses replaced by those of the COLMAP reconstruction in ``folder``."""
    poses = read_colmap_poses(folder)
    matched = match_frames(sorted(poses), recording.left_images, recording.source)
    if not matched:
        ours = ", ".join(recording.frame_names[:3])
        theirs = ", ".join(sorted(poses)[:3])
        raise ImporterError(
            f"{folder}: none of the reconstruction's {len(poses)} image names ({theirs}, ...) matches the "
            f"{len(recording.left_images)} left images of {recording.source} ({ours}, ...)"
        )
    load = recording.load

    def load_with_pose(index: int) -> ImportedFrame:
        name = matched.get(index)
        return replace(load(index), T_world_left=None if name is None else poses[name])

    count = f"{len(matched)}/{len(recording.left_images)} frames"
    notes = [f"poses from COLMAP {folder} ({SCALE_NOTE})"]
    if len(matched) < len(recording.left_images):
        notes.append(f"COLMAP registered {count}: the others have no pose")
    return replace(
        recording,
        load=load_with_pose,
        pose_source=f"COLMAP {folder.name} ({count}; {SCALE_NOTE})",
        custom_data={**recording.custom_data, "stereo_nerf.colmap": str(folder.resolve())},
        notes=(*recording.notes, *notes),
    )
