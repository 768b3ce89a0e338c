"""Offline structure from motion on keyframes with pycolmap (CPU), intrinsics fixed to the calibration.

The rectified left images are registered with the rectified intrinsics held fixed. When the
right images are given too, they enter as the second camera of a COLMAP rig whose extrinsics are
the known stereo baseline, held fixed in bundle adjustment: every right pose is the left pose
composed with the rig, and the reconstruction is metric (the baseline sets its scale). Without
right images the poses are known only up to a similarity; :func:`align_reconstruction` (Umeyama,
:func:`align_trajectory`) maps them onto a metric reference such as the stereo odometry.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.geometry.similarity import SimilarityTransform, align_poses, align_trajectory

__all__ = ["SfmResult", "align_reconstruction", "align_trajectory", "run_sfm"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class SfmResult:
    """A reconstruction: poses of the registered frames and the sparse points, in COLMAP's world frame."""

    poses: dict[int, F64]
    """Frame id -> (4, 4) ``T_world_camera`` of the rectified left camera (registered frames only)."""
    points: F64
    """(N, 3) sparse points in the same world frame."""
    colors: NDArray[np.uint8]
    """(N, 3) RGB of the points."""
    metric: bool
    """True when the right images were registered through the fixed stereo rig (scale from the baseline)."""
    mean_reprojection_error_px: float
    frames: int
    """Frames given (registered ones are in ``poses``)."""

    def trajectory(self, frame_ids: Sequence[int]) -> F64:
        """(N, 4, 4) poses of ``frame_ids`` (all must be registered)."""
        missing = [i for i in frame_ids if i not in self.poses]
        if missing:
            raise FrontendError(f"frames {missing} are not registered in the reconstruction")
        return np.stack([self.poses[i] for i in frame_ids])


def _write_png(path: Path, image: NDArray[np.uint8]) -> None:
    bgr = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), bgr):
        raise FrontendError(f"cannot write SfM input image {path}")


def _check_images(images: Sequence[NDArray[np.uint8]], size: tuple[int, int], name: str) -> None:
    for i, image in enumerate(images):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.shape[1::-1] != size:
            raise FrontendError(
                f"{name}[{i}] must be a {size[0]}x{size[1]} uint8 image (the calibration's size), "
                f"got {image.dtype} {image.shape}"
            )


def _pinhole(P: NDArray[np.float64]) -> str:
    return ",".join(repr(float(v)) for v in (P[0, 0], P[1, 1], P[0, 2], P[1, 2]))


def run_sfm(
    left_images: Sequence[NDArray[np.uint8]],
    calibration: StereoCalibration,
    *,
    right_images: Sequence[NDArray[np.uint8]] | None = None,
    frame_ids: Sequence[int] | None = None,
    work_dir: Path | str | None = None,
    max_features: int = 2048,
    min_init_triangulation_deg: float = 4.0,
    num_threads: int = 2,
    seed: int = 0,
    verbose: bool = False,
) -> SfmResult:
    """Incremental SfM (pycolmap 4: ``extract_features``, ``match_exhaustive``, ``incremental_mapping`` on CPU).

    ``left_images`` (and ``right_images``) are rectified (H, W[, 3]) uint8 keyframes of
    ``calibration``; ``frame_ids`` name them (default 0..N-1). ``work_dir`` keeps the database,
    images and model (default: a temporary folder, removed afterwards). The endoscope's short
    travel gives small triangulation angles, so the initial pair needs only
    ``min_init_triangulation_deg`` (COLMAP's default is 16). Raises :class:`FrontendError` when
    pycolmap finds no reconstruction. COLMAP's progress log is shown only when ``verbose``.
    """
    import pycolmap

    ids = list(range(len(left_images))) if frame_ids is None else [int(i) for i in frame_ids]
    if len(ids) != len(left_images) or len(set(ids)) != len(ids):
        raise FrontendError(f"frame_ids must be {len(left_images)} distinct ids, got {ids}")
    if len(left_images) < 2:
        raise FrontendError(f"SfM needs at least 2 frames, got {len(left_images)}")
    _check_images(left_images, calibration.size, "left_images")
    if right_images is not None:
        if len(right_images) != len(left_images):
            raise FrontendError(f"got {len(left_images)} left but {len(right_images)} right images")
        _check_images(right_images, calibration.size, "right_images")
    level = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = level if verbose else max(level, 1)  # warnings and errors only
    try:
        with contextlib.ExitStack() as stack:
            if work_dir is None:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stereo_nerf_sfm_")))
            else:
                folder = Path(work_dir)
                folder.mkdir(parents=True, exist_ok=True)
            return _run(
                pycolmap,
                folder,
                left_images,
                right_images,
                ids,
                calibration,
                max_features,
                min_init_triangulation_deg,
                num_threads,
                seed,
            )
    finally:
        pycolmap.logging.minloglevel = level


def _run(
    pycolmap: Any,
    work: Path,
    left_images: Sequence[NDArray[np.uint8]],
    right_images: Sequence[NDArray[np.uint8]] | None,
    ids: list[int],
    calibration: StereoCalibration,
    max_features: int,
    min_init_triangulation_deg: float,
    num_threads: int,
    seed: int,
) -> SfmResult:
    images = work / "images"
    database = work / "database.db"
    if database.exists():
        raise FrontendError(f"{database} exists already: give an empty work_dir")
    sides: list[tuple[str, Sequence[NDArray[np.uint8]], NDArray[np.float64]]] = [
        ("left", left_images, calibration.left.P)
    ]
    if right_images is not None:
        sides.append(("right", right_images, calibration.right.P))
    pycolmap.set_random_seed(seed)
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = num_threads
    extraction.sift.max_num_features = max_features
    for side, side_images, P in sides:
        (images / side).mkdir(parents=True, exist_ok=True)
        names = [f"{side}/{frame:06d}.png" for frame in ids]
        for name, image in zip(names, side_images, strict=True):
            _write_png(images / name, image)
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "PINHOLE"
        reader.camera_params = _pinhole(P)
        pycolmap.extract_features(
            database,
            images,
            image_names=names,
            camera_mode=pycolmap.CameraMode.SINGLE,
            reader_options=reader,
            extraction_options=extraction,
            device=pycolmap.Device.cpu,
        )
    if right_images is not None:
        # The right rectified camera sees a point x of the left one at x - (B, 0, 0).
        right_from_left = pycolmap.Rigid3d(pycolmap.Rotation3d(), np.array([-calibration.baseline_m, 0.0, 0.0]))
        rig = pycolmap.RigConfig(
            cameras=[
                pycolmap.RigConfigCamera(ref_sensor=True, image_prefix="left/"),
                pycolmap.RigConfigCamera(image_prefix="right/", cam_from_rig=right_from_left),
            ]
        )
        with pycolmap.Database.open(database) as db:
            pycolmap.apply_rig_config([rig], db)
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = num_threads
    pycolmap.match_exhaustive(database, matching_options=matching, device=pycolmap.Device.cpu)
    options = pycolmap.IncrementalPipelineOptions()
    options.ba_refine_focal_length = False
    options.ba_refine_principal_point = False
    options.ba_refine_extra_params = False
    options.ba_refine_sensor_from_rig = False
    options.mapper.abs_pose_refine_focal_length = False
    options.mapper.abs_pose_refine_extra_params = False
    options.mapper.init_min_tri_angle = min_init_triangulation_deg
    options.multiple_models = False
    options.min_model_size = 2
    options.num_threads = num_threads
    options.random_seed = seed
    (work / "sparse").mkdir(exist_ok=True)
    try:
        models = pycolmap.incremental_mapping(database, images, work / "sparse", options=options)
    except Exception as error:  # pycolmap raises RuntimeError/ValueError subclasses of its own
        raise FrontendError(f"pycolmap incremental mapping failed on {len(ids)} frames: {error}") from error
    if not models:
        raise FrontendError(
            f"pycolmap found no reconstruction of {len(ids)} frames (too few distinct views or matches; "
            "expected frames with overlapping texture and some camera motion)"
        )
    model = max(models.values(), key=lambda m: m.num_reg_images())
    poses: dict[int, F64] = {}
    for image in model.images.values():
        if image.has_pose and image.name.startswith("left/"):
            pose = np.eye(4)
            pose[:3, :] = image.cam_from_world().inverse().matrix()
            poses[int(image.name[len("left/") : -len(".png")])] = pose
    if len(poses) < 2:
        raise FrontendError(f"pycolmap registered {len(poses)} of {len(ids)} left frames (expected at least 2)")
    points = model.points3D.values()
    xyz = np.array([p.xyz for p in points], dtype=np.float64).reshape(-1, 3)
    colors = np.array([p.color for p in points], dtype=np.uint8).reshape(-1, 3)
    return SfmResult(
        poses=dict(sorted(poses.items())),
        points=xyz,
        colors=colors,
        metric=right_images is not None,
        mean_reprojection_error_px=float(model.compute_mean_reprojection_error()),
        frames=len(ids),
    )


def align_reconstruction(
    result: SfmResult, reference: Mapping[int, NDArray[np.float64]], *, with_scale: bool
) -> tuple[SfmResult, SimilarityTransform]:
    """``result`` moved onto ``reference`` poses (frame id -> (4, 4), e.g. stereo odometry).

    Uses the frames registered in both (at least 3) and their orientations as well as positions
    (:func:`~stereo_nerf_core.geometry.similarity.align_poses`: a short, nearly straight stroke leaves
    a position-only Umeyama fit free to roll about the path). ``with_scale`` makes a similarity SfM
    (no right images) metric; a metric rig reconstruction needs only a rigid alignment.
    """
    common = [i for i in result.poses if i in reference]
    if len(common) < 3:
        raise FrontendError(f"aligning a reconstruction needs 3 frames in both, got {len(common)}: {common}")
    estimated = np.stack([result.poses[i] for i in common])
    target = np.stack([np.asarray(reference[i], dtype=np.float64) for i in common])
    transform = align_poses(estimated, target, with_scale=with_scale)
    ids = list(result.poses)
    moved = transform.apply_poses(np.stack([result.poses[i] for i in ids]))
    aligned = SfmResult(
        poses={i: moved[k] for k, i in enumerate(ids)},
        points=transform.apply_points(result.points) if len(result.points) else result.points,
        colors=result.colors,
        metric=result.metric or with_scale,
        mean_reprojection_error_px=result.mean_reprojection_error_px,
        frames=result.frames,
    )
    return aligned, transform
