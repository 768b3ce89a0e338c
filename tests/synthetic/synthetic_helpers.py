"""Shared helpers of the synthetic-endoscope tests (plain functions; no fixtures)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import RectifiedView
from stereo_nerf_core.io.bag import read_messages
from stereo_nerf_core.synthetic.config import SyntheticConfig, preset

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_BAG = REPO_ROOT / "rosbags" / "sample_endoscope"


def tiny_config(**changes: Any) -> SyntheticConfig:
    """A fast configuration (128x104, 8 frames, coarse texture) with ``changes``."""
    return preset("tiny", **changes)


def messages_by_topic(path: Path, topics: list[str] | None = None) -> dict[str, list[Any]]:
    """Deserialised messages of a bag per topic, in log-time order, with their log times."""
    out: dict[str, list[Any]] = defaultdict(list)
    for message in read_messages(path, topics):
        out[message.topic].append((message.log_time_ns, message.msg))
    return dict(out)


def right_from_left(
    left: RectifiedView, right: RectifiedView
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(R, t) with ``x_right_raw = R @ x_left_raw + t``, from CameraInfo R and P alone.

    The rectified right frame is the rectified left frame shifted by the baseline along x
    (``P_right[0, 3] = -fx * B``): ``R2 x_right = R1 x_left - (B, 0, 0)``.
    """
    baseline = -right.P[0, 3] / right.P[0, 0]
    R = right.R.T @ left.R
    t = -right.R.T @ np.array([baseline, 0.0, 0.0])
    return R, t


def warp_right_to_left(
    left: RectifiedView,
    right: RectifiedView,
    depth: NDArray[np.floating],
    right_image: NDArray[Any],
) -> tuple[NDArray[np.float32], NDArray[np.bool_], NDArray[np.float64], NDArray[np.float32]]:
    """Resample the right raw image onto the left raw grid through the left depth (H, W).

    Each left raw pixel is back-projected with its depth along its undistorted ray, moved into the
    right raw camera, projected with the right distortion and sampled bilinearly. Returns the warped
    image (H, W[, C]) float32, the in-view mask (H, W), the points' right-camera Z (H, W) and the
    sampling maps stacked (H, W, 2).
    """
    R, t = right_from_left(left, right)
    height, width = depth.shape
    rays = left.camera.pixel_rays()
    finite = np.isfinite(depth)
    points = rays * np.where(finite, depth, 1.0)[..., None].astype(np.float64)
    in_right = points @ R.T + t
    uv = right.camera.project(in_right.reshape(-1, 3)).reshape(height, width, 2)
    in_view = (
        finite
        & (in_right[..., 2] > 0)
        & (uv[..., 0] >= 0)
        & (uv[..., 0] <= width - 1)
        & (uv[..., 1] >= 0)
        & (uv[..., 1] <= height - 1)
    )
    maps = uv.astype(np.float32)
    warped = cv2.remap(
        right_image.astype(np.float32),
        maps[..., 0],
        maps[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return warped, in_view, in_right[..., 2], maps


def sample_nearest(image: NDArray[Any], maps: NDArray[np.float32]) -> NDArray[Any]:
    """``image`` sampled at ``maps`` (H, W, 2) with nearest-neighbour interpolation."""
    return cv2.remap(image, maps[..., 0], maps[..., 1], cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
