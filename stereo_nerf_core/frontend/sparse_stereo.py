"""Sparse correspondences of a roughly rectified pair, for the rows' alignment and as a disparity guess.

ORB matches need no disparity guess (so repetitive texture does not mislead them) but are located to
about a pixel; they anchor a smooth disparity guess from which Lucas-Kanade tracks Shi-Tomasi corners
to sub-pixel precision, in both coordinates (a vertical offset is what we are after).
Pixel coordinates are ``(x, y)`` with pixel centres at integers (OpenCV).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]


def orb_stereo_matches(
    grey_left: NDArray[np.uint8],
    grey_right: NDArray[np.uint8],
    *,
    min_disparity: float,
    max_disparity: float,
    max_points: int = 500,
) -> tuple[F32, F32, F32]:
    """Coarse sparse correspondences of a roughly rectified grey pair (H, W), from ORB features.

    ORB features matched by Hamming distance with Lowe's ratio test (0.8); they need no disparity
    guess, so repetitive texture does not mislead them, but their positions are only good to about a
    pixel. Matches with ``|y_l - y_r|`` above 10 % of the height or a disparity outside the range are
    dropped. Returns left points (N, 2) as (x, y), ``x_l - x_r`` (N,) and ``y_l - y_r`` (N,).
    """
    nothing = (np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32))
    height, width = grey_left.shape
    if min(height, width) < 32:
        return nothing
    orb = cv2.ORB.create(
        nfeatures=max_points, scaleFactor=1.2, nlevels=4, edgeThreshold=15, patchSize=15, fastThreshold=10
    )
    keys_left, descriptors_left = orb.detectAndCompute(grey_left, None)
    keys_right, descriptors_right = orb.detectAndCompute(grey_right, None)
    if descriptors_left is None or descriptors_right is None or len(keys_right) < 2:
        return nothing
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(descriptors_left, descriptors_right, k=2)
    chosen = [m[0] for m in pairs if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
    if not chosen:
        return nothing
    points = np.array([keys_left[m.queryIdx].pt for m in chosen], np.float32).reshape(-1, 2)
    right_points = np.array([keys_right[m.trainIdx].pt for m in chosen], np.float32).reshape(-1, 2)
    disparity = points[:, 0] - right_points[:, 0]
    dy = points[:, 1] - right_points[:, 1]
    keep = (np.abs(dy) <= 0.1 * height) & (disparity >= min_disparity - 1.0) & (disparity <= max_disparity + 1.0)
    return points[keep], disparity[keep].astype(np.float32), dy[keep].astype(np.float32)


def tracked_stereo_matches(
    grey_left: NDArray[np.uint8],
    grey_right: NDArray[np.uint8],
    *,
    min_disparity: float,
    max_disparity: float,
    max_points: int = 300,
    guess: F32 | None = None,
) -> tuple[F32, F32, F32]:
    """Sparse left-to-right correspondences of a roughly rectified grey pair (H, W), by Lucas-Kanade.

    Shi-Tomasi corners of the left image are tracked into the right image starting from ``guess``
    (H, W), a dense disparity estimate (two pyramid levels), or else from the middle of the disparity
    range (a pyramid deep enough for the whole range), then tracked back; matches
    whose round trip misses by more than 0.5 px or whose disparity leaves the range are dropped.
    Returns left points (N, 2) as (x, y), disparities ``x_l - x_r`` (N,) and ``y_l - y_r`` (N,).
    """
    nothing = (np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32))
    height, width = grey_left.shape
    if min(height, width) < 16:
        return nothing
    corners = cv2.goodFeaturesToTrack(grey_left, max_points, 0.005, max(4.0, width / 80.0), blockSize=7)
    if corners is None or len(corners) == 0:
        return nothing
    points = corners.reshape(-1, 1, 2).astype(np.float32)
    start = points.copy()
    if guess is None:
        start[..., 0] -= np.float32(0.5 * (min_disparity + max_disparity))
        half_range = max(0.5 * (max_disparity - min_disparity), 1.0)
        levels = int(np.clip(np.ceil(np.log2(half_range / 6.0 + 1.0)), 1, 5))
    else:
        at = np.clip(np.rint(points.reshape(-1, 2)).astype(np.intp), 0, [width - 1, height - 1])
        start[:, 0, 0] -= guess[at[:, 1], at[:, 0]]
        levels = 2
    window = (15, 15)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)
    tracked, status, _ = cv2.calcOpticalFlowPyrLK(
        grey_left,
        grey_right,
        points,
        start,
        winSize=window,
        maxLevel=levels,
        criteria=criteria,
        flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
    )
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(
        grey_right,
        grey_left,
        tracked,
        points.copy(),
        winSize=window,
        maxLevel=1,
        criteria=criteria,
        flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
    )
    left_points = points.reshape(-1, 2)
    right_points = tracked.reshape(-1, 2)
    round_trip = np.linalg.norm(back.reshape(-1, 2) - left_points, axis=1)
    disparity = left_points[:, 0] - right_points[:, 0]
    keep = (status.reshape(-1) == 1) & (status_back.reshape(-1) == 1) & (round_trip < 0.5)
    keep &= (disparity >= min_disparity - 1.0) & (disparity <= max_disparity + 1.0)
    keep &= np.all(np.isfinite(right_points), axis=1)
    dy = left_points[:, 1] - right_points[:, 1]
    return left_points[keep], disparity[keep].astype(np.float32), dy[keep].astype(np.float32)


def sparse_stereo_flow(
    grey_left: NDArray[np.uint8],
    grey_right: NDArray[np.uint8],
    *,
    min_disparity: float,
    max_disparity: float,
) -> tuple[F32, F32, F32]:
    """Sparse correspondences of a roughly rectified grey pair (H, W): ORB matches, which need no
    disparity guess, anchor a dense guess (:func:`sparse_disparity_field`) from which Lucas-Kanade
    tracks Shi-Tomasi corners to sub-pixel precision (:func:`tracked_stereo_matches`); those are
    returned (the ORB matches only when tracking found fewer).
    Returns left points (N, 2) as (x, y), disparities ``x_l - x_r`` (N,) and ``y_l - y_r`` (N,).
    """
    anchors = orb_stereo_matches(grey_left, grey_right, min_disparity=min_disparity, max_disparity=max_disparity)
    height, width = grey_left.shape
    guess = sparse_disparity_field(anchors[0], anchors[1], width, height) if len(anchors[1]) >= 3 else None
    tracked = tracked_stereo_matches(
        grey_left, grey_right, min_disparity=min_disparity, max_disparity=max_disparity, guess=guess
    )
    if guess is None or len(tracked[1]) >= len(anchors[1]):
        return tracked
    return anchors


def sparse_disparity_field(points: F32, disparity: F32, width: int, height: int, *, cell: int = 16) -> F32:
    """A smooth dense disparity (H, W) interpolated from sparse matches: cell averages, blurred, resized."""
    if len(disparity) == 0:
        return np.zeros((height, width), np.float32)
    columns, rows = max(1, -(-width // cell)), max(1, -(-height // cell))
    total = np.zeros((rows, columns), np.float32)
    count = np.zeros((rows, columns), np.float32)
    cx = np.clip((points[:, 0] / cell).astype(np.intp), 0, columns - 1)
    cy = np.clip((points[:, 1] / cell).astype(np.intp), 0, rows - 1)
    np.add.at(total, (cy, cx), disparity)
    np.add.at(count, (cy, cx), 1.0)
    fallback = np.float32(np.median(disparity))
    field = np.full((rows, columns), fallback, np.float32)
    for sigma in (8.0, 1.5):  # wide first (reaches empty cells), then the local average on top
        blurred_total = cv2.GaussianBlur(total, (0, 0), sigma)
        blurred_count = cv2.GaussianBlur(count, (0, 0), sigma)
        known = blurred_count > 0.05 if sigma < 8.0 else blurred_count > 1e-6
        field = np.where(known, blurred_total / np.maximum(blurred_count, 1e-9), field).astype(np.float32)
    return cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)
