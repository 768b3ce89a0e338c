"""A monocular video (any container OpenCV decodes) as a left-only recording.

Stamps follow the video's frame rate (``--fps`` overrides it); the camera is a pinhole with focal length
``fx`` (square pixels) and principal point ``(cx, cy)`` (default the image centre, as EndoNeRF assumes);
poses are the identity (a static endoscope) unless an LLFF ``poses_bounds.npy`` with one row per frame
gives them; with such a file (an EndoNeRF clip) the bag records EndoNeRF's split, which the replay then holds
out. There is no right image and no depth: such a bag replays photometrically.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView
from stereo_nerf_core.importers.endonerf import PoseConvention, endonerf_splits, llff_to_optical, read_poses_bounds
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.files import require_file
from stereo_nerf_core.importers.writer import ImportedFrame, Recording


def read_video(path: Path) -> tuple[list[NDArray[np.uint8]], float | None]:
    """(every frame as RGB uint8 (H, W, 3), frames per second or None when the container does not say)."""
    require_file(path, "a video file OpenCV can decode")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ImporterError(f"{path}: OpenCV cannot open this file as a video")
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        frames: list[NDArray[np.uint8]] = []
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(np.ascontiguousarray(bgr[..., ::-1]))
    finally:
        capture.release()
    if not frames:
        raise ImporterError(f"{path}: no frame could be decoded (not a video, or a codec OpenCV lacks)")
    return frames, fps if np.isfinite(fps) and fps > 0 else None


def video_poses(path: Path, frames: int, convention: PoseConvention = "opengl") -> list[NDArray[np.float64]]:
    """``T_world_camera`` of each frame from an LLFF ``poses_bounds.npy`` that has exactly ``frames`` rows."""
    array = read_poses_bounds(path)
    if len(array) != frames:
        raise ImporterError(f"{path}: {len(array)} poses for a video of {frames} frames (one row per frame needed)")
    return [llff_to_optical(pose, convention) for pose in array[:, :15].reshape(-1, 3, 5)]


def video_camera(width: int, height: int, *, fx: float, cx: float | None, cy: float | None) -> RectifiedView:
    """The pinhole view of the video's frames."""
    if not np.isfinite(fx) or fx <= 0:
        raise ImporterError(f"--fx must be a positive focal length in pixels, got {fx}")
    K = np.array(
        [[fx, 0.0, width / 2.0 if cx is None else cx], [0.0, fx, height / 2.0 if cy is None else cy], [0.0, 0.0, 1.0]]
    )
    return RectifiedView(PinholeCamera(width, height, K), np.eye(3), np.hstack([K, np.zeros((3, 1))]))


def load_video(
    source: Path, *, fx: float, cx: float | None = None, cy: float | None = None, poses_bounds: Path | None = None
) -> Recording:
    """The video ``source`` as a left-only :class:`Recording` (module docstring)."""
    frames, fps = read_video(source)
    height, width = frames[0].shape[:2]
    view = video_camera(width, height, fx=fx, cx=cx, cy=cy)
    poses = video_poses(poses_bounds, len(frames)) if poses_bounds is not None else [np.eye(4)] * len(frames)
    for index, frame in enumerate(frames):
        if frame.shape[:2] != (height, width):
            raise ImporterError(f"{source}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, not {width}x{height}")

    def load(index: int) -> ImportedFrame:
        return ImportedFrame(left=frames[index], T_world_left=poses[index])

    names = tuple(Path(f"{source.name}#{index:06d}") for index in range(len(frames)))
    return Recording(
        format="video",
        source=source,
        left_images=names,
        load=load,
        left_view=view,
        pose_source=f"{poses_bounds.name} (opengl axes)" if poses_bounds is not None else "identity (static camera)",
        frame_rate_hz=fps,
        custom_data=endonerf_splits([name.name for name in names]) if poses_bounds is not None else {},
        notes=(f"{len(frames)} frames decoded by OpenCV" + (f" at {fps:g} Hz" if fps else ", no frame rate"),),
    )
