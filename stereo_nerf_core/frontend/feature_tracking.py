"""Tracking keyframe features into a new image and solving the camera's pose from them (the odometry's steps).

Pyramidal Lucas-Kanade from the keyframe with an initial guess and a forward-backward check
(:func:`track_klt`), or SIFT matching (:func:`track_sift`); PnP with RANSAC (``cv2.solvePnPRansac``) refined by
Levenberg-Marquardt on the inliers (``cv2.solvePnPRefineLM``) (:func:`solve_pnp`); bilinear depth at
sub-pixel features that refuses depth edges (:func:`sample_depth`).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import MatchingConfig, OdometryConfig
from stereo_nerf_core.frontend.matching import detect_sift, match_descriptors
from stereo_nerf_core.geometry.transforms import make_se3

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
Indices = NDArray[np.intp]


def sample_depth(depth: NDArray[np.float32], points: F32, *, max_relative_step: float = 0.02) -> F32:
    """Depth (N,) at sub-pixel ``points`` (N, 2): bilinear, 0 where any neighbour lacks depth or across an edge.

    An edge is where the bilinear value and the nearest pixel's depth differ by more than
    ``max_relative_step`` of the depth.
    """
    if len(points) == 0:
        return np.zeros(0, np.float32)
    x = points[:, 0].astype(np.float32).reshape(-1, 1)
    y = points[:, 1].astype(np.float32).reshape(-1, 1)
    valid = (depth > 0).astype(np.float32)
    bilinear = cv2.remap(depth, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT).ravel()
    coverage = cv2.remap(valid, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT).ravel()
    nearest = cv2.remap(depth, x, y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT).ravel()
    good = (coverage > 0.999) & (nearest > 0) & (np.abs(bilinear - nearest) <= max_relative_step * nearest)
    return np.where(good, bilinear, 0).astype(np.float32)


def track_klt(
    keyframe_image: NDArray[np.uint8],
    keyframe_points: F32,
    guess: F32,
    grey: NDArray[np.uint8],
    exclude: NDArray[np.bool_] | None,
    config: OdometryConfig,
) -> tuple[Indices, F32, F32]:
    """(indices of the keyframe features (M, 2) tracked into ``grey``, their positions (M, 2), the next guess
    (N, 2): ``guess`` with the tracked positions) by pyramidal Lucas-Kanade from ``guess``; features that fail the
    forward-backward check, leave the image or land on ``exclude`` (H, W) are dropped."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    window = (config.klt_window_px, config.klt_window_px)
    start = keyframe_points.reshape(-1, 1, 2)
    try:
        forward, status, _ = cv2.calcOpticalFlowPyrLK(
            keyframe_image,
            grey,
            start,
            guess.reshape(-1, 1, 2).copy(),
            winSize=window,
            maxLevel=config.klt_levels,
            criteria=criteria,
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        )
        ok = status.reshape(-1) == 1
        if config.max_forward_backward_px > 0:
            backward, back_status, _ = cv2.calcOpticalFlowPyrLK(
                grey,
                keyframe_image,
                forward,
                start.copy(),
                winSize=window,
                maxLevel=config.klt_levels,
                criteria=criteria,
                flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
            )
            drift = np.linalg.norm(backward.reshape(-1, 2) - keyframe_points, axis=1)
            ok &= (back_status.reshape(-1) == 1) & (drift <= config.max_forward_backward_px)
    except cv2.error:
        return np.zeros(0, np.intp), np.zeros((0, 2), np.float32), guess
    points = forward.reshape(-1, 2).astype(np.float32)
    height, width = grey.shape
    ok &= np.all(np.isfinite(points), axis=1)
    ok &= (points[:, 0] >= 0) & (points[:, 0] <= width - 1) & (points[:, 1] >= 0) & (points[:, 1] <= height - 1)
    if exclude is not None and ok.any():
        rows = np.clip(np.rint(points[:, 1]).astype(int), 0, height - 1)
        columns = np.clip(np.rint(points[:, 0]).astype(int), 0, width - 1)
        ok &= ~exclude[rows, columns]
    keep = np.flatnonzero(ok)
    return keep, points[keep], np.where(ok[:, None], points, guess).astype(np.float32)


def track_sift(
    keyframe_descriptors: F32 | None,
    grey: NDArray[np.uint8],
    exclude: NDArray[np.bool_] | None,
    config: OdometryConfig,
    matching: MatchingConfig,
) -> tuple[Indices, F32]:
    """(indices of the keyframe features matched in ``grey``, their positions (M, 2)) by SIFT and the ratio test."""
    if keyframe_descriptors is None:
        return np.zeros(0, np.intp), np.zeros((0, 2), np.float32)
    features = detect_sift(
        grey, max_features=config.max_features, contrast_threshold=matching.sift_contrast_threshold, exclude=exclude
    )
    index_keyframe, index_current, _, _ = match_descriptors(
        keyframe_descriptors, features.descriptors, ratio=matching.ratio, mutual_check=matching.mutual_check
    )
    return index_keyframe.astype(np.intp), features.keypoints[index_current]


def solve_pnp(
    points_3d: F32, points_2d: F32, K: F64, guess: F64, config: OdometryConfig
) -> tuple[F64, int, float] | None:
    """(T_camera_points (4, 4), inliers, mean inlier reprojection error in px) of 3-D points (N, 3) seen at
    ``points_2d`` (N, 2) with intrinsics ``K``, from the pose ``guess``; None when PnP fails."""
    rvec, _ = cv2.Rodrigues(guess[:3, :3])
    tvec = guess[:3, 3].reshape(3, 1).copy()
    object_points = points_3d.astype(np.float64).reshape(-1, 1, 3)
    image_points = points_2d.astype(np.float64).reshape(-1, 1, 2)
    try:
        found, rvec, tvec, inliers = cv2.solvePnPRansac(
            object_points,
            image_points,
            K,
            None,
            rvec,
            tvec,
            useExtrinsicGuess=True,
            iterationsCount=config.ransac_iterations,
            reprojectionError=config.ransac_reprojection_px,
            confidence=0.999,
            flags=cv2.SOLVEPNP_ITERATIVE,
        )
        if not found or inliers is None or len(inliers) < 4:
            return None
        chosen = inliers.reshape(-1)
        rvec, tvec = cv2.solvePnPRefineLM(object_points[chosen], image_points[chosen], K, None, rvec, tvec)
        projected, _ = cv2.projectPoints(object_points[chosen], rvec, tvec, K, None)
    except cv2.error:
        return None
    errors = np.linalg.norm(projected.reshape(-1, 2) - image_points[chosen].reshape(-1, 2), axis=1)
    if not np.all(np.isfinite(errors)) or not np.all(np.isfinite(tvec)):
        return None
    rotation, _ = cv2.Rodrigues(rvec)
    return make_se3(rotation, tvec.reshape(3)), len(chosen), float(np.mean(errors))
