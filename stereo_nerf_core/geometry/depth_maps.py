"""Depth maps: back-projection, and moving a raw-left depth map onto the rectified left grid."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.camera import PinholeCamera, StereoCalibration
from stereo_nerf_core.geometry.errors import GeometryError


def backproject(depth: NDArray[np.floating], K: NDArray[np.float64]) -> NDArray[np.float32]:
    """Camera-frame points (H, W, 3) of a pinhole depth map (H, W) in metres (Z along the optical axis)."""
    if depth.ndim != 2:
        raise GeometryError(f"depth must be (H, W), got {depth.shape}")
    height, width = depth.shape
    u, v = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    z = depth.astype(np.float32)
    x = (u - np.float32(K[0, 2])) / np.float32(K[0, 0]) * z
    y = (v - np.float32(K[1, 2])) / np.float32(K[1, 1]) * z
    return np.stack([x, y, z], axis=2)


def backproject_points(
    pixels: NDArray[np.floating], depth: NDArray[np.floating], K: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Camera-frame points (N, 3) of pixel centres ``pixels`` (N, 2) at depth Z ``depth`` (N,) (zero skew; the
    numpy twin of :func:`stereo_nerf_core.geometry.lie.backproject_pixels`)."""
    z = np.asarray(depth, np.float64)
    x = (pixels[:, 0] - K[0, 2]) / K[0, 0] * z
    y = (pixels[:, 1] - K[1, 2]) / K[1, 1] * z
    return np.stack([x, y, z], axis=1)


def raw_point_map(depth: NDArray[np.floating], camera: PinholeCamera) -> NDArray[np.float32]:
    """Camera-frame points (H, W, 3) of a depth map on a raw (distorted) grid; NaN where depth is not > 0."""
    if depth.shape != (camera.height, camera.width):
        raise GeometryError(f"depth is {depth.shape}, camera expects {(camera.height, camera.width)}")
    z = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype(np.float32)
    return (camera.pixel_rays().astype(np.float32) * z[:, :, None]).astype(np.float32)


def rectify_left_depth(
    calibration: StereoCalibration, depth_raw: NDArray[np.floating], *, edge_ratio: float = 0.02
) -> NDArray[np.float32]:
    """The left raw-grid depth map (Z of the raw frame) as Z of the rectified frame on the rectified grid.

    Points are interpolated bilinearly except across depth edges (neighbours differing by more than
    ``edge_ratio`` of the depth), where the nearest raw pixel is used. NaN where there is no depth.
    """
    points = raw_point_map(depth_raw, calibration.left.camera)
    map_x, map_y = calibration.maps[0]
    linear = cv2.remap(points, map_x, map_y, cv2.INTER_LINEAR, borderValue=(np.nan, np.nan, np.nan))
    nearest = cv2.remap(points, map_x, map_y, cv2.INTER_NEAREST, borderValue=(np.nan, np.nan, np.nan))
    z = points[:, :, 2]
    filled = np.where(np.isfinite(z), z, 0).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(filled, kernel) - cv2.erode(np.where(np.isfinite(z), z, 1e6).astype(np.float32), kernel)
    edges = (spread > edge_ratio * np.where(np.isfinite(z), z, 0)) | ~np.isfinite(z)
    edges_rect = cv2.remap(edges.astype(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderValue=1).astype(bool)
    sampled = np.where(edges_rect[:, :, None], nearest, linear)
    rectified = sampled @ calibration.left.R.T.astype(np.float32)
    depth = rectified[:, :, 2]
    return np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype(np.float32)
