"""Stereo visual odometry for inputs without poses: frame-to-keyframe tracking + PnP, metric by construction.

Each keyframe keeps features (outside instruments, where its stereo depth prior has depth) with
their 3-D points in the keyframe's rectified left frame. Every new frame is tracked to the current
keyframe -- pyramidal Lucas-Kanade from the keyframe with the previous frame's positions as the
initial guess and a forward-backward check (``odometry.tracker: klt``), or SIFT matching (``sift``)
-- and its pose comes from PnP with RANSAC refined by Levenberg-Marquardt on the inliers (both in
:mod:`~stereo_nerf_core.frontend.feature_tracking`). The depth prior is metric, so the poses are too.

A frame becomes the next keyframe when :class:`~stereo_nerf_core.frontend.keyframes.KeyframeSelector`
says so (translation, rotation, overlap; never a blurred frame). A frame that cannot be tracked
(too few tracks or inliers, or a large reprojection error) is flagged ``tracking_lost`` and keeps
the last pose; tracking then restarts from that frame as a new keyframe at the last pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.config import KeyframeConfig, MatchingConfig, OdometryConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.feature_tracking import sample_depth, solve_pnp, track_klt, track_sift
from stereo_nerf_core.frontend.keyframes import KeyframeBuffer, KeyframeSelector
from stereo_nerf_core.frontend.matching import detect_sift
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.geometry.depth_maps import backproject_points
from stereo_nerf_core.geometry.transforms import invert_se3

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class TrackingResult:
    """Pose and diagnostics of one tracked frame."""

    frame_index: int
    T_world_camera: F64
    """(4, 4) pose of the rectified left camera; the last good pose when ``tracking_lost``."""
    tracking_lost: bool
    tracked: int
    """Keyframe features found in this frame (before RANSAC)."""
    inliers: int
    """PnP RANSAC inliers."""
    reprojection_error_px: float
    """Mean reprojection error of the inliers after refinement (NaN when lost)."""
    overlap: float
    """Share of the keyframe's features that are inliers in this frame."""
    keyframe_index: int
    """Frame index of the keyframe this frame was tracked against (-1: none)."""
    is_keyframe: bool
    """This frame became the new keyframe."""
    keyframe_reason: str
    """Why it did ("first", "translation", "rotation", "overlap", "lost"), "blurred" if rejected, else ""."""


@dataclass(frozen=True)
class Keyframe:
    """A frame that later frames are tracked against."""

    frame_index: int
    T_world_camera: F64
    """(4, 4)."""
    image: NDArray[np.uint8]
    """(H, W) grey rectified left image."""
    points_2d: F32
    """(N, 2) feature positions (x, y) in the keyframe."""
    points_3d: F32
    """(N, 3) the features' points in the keyframe's rectified left frame, metres."""
    descriptors: F32 | None
    """(N, 128) SIFT descriptors (``sift`` tracker), else None."""


@dataclass(frozen=True)
class PendingFrame:
    """A frame :meth:`StereoOdometry.track_image` tracked that waits for its depth prior (it may become a keyframe)."""

    index: int
    grey: NDArray[np.uint8]
    exclude: NDArray[np.bool_] | None
    kind: str
    """"first" (no keyframe yet), "keyframe" (the selector asks for one) or "lost" (restart from this frame)."""
    tracked: int
    inliers: int
    error: float
    overlap: float
    keyframe_index: int
    reason: str


def _grey(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise FrontendError(f"odometry needs an (H, W) or (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
    return image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


class StereoOdometry:
    """Frame-to-keyframe stereo visual odometry on the rectified left image (see the module docstring).

    Not thread-safe: one instance per image stream. Keyframes are kept in :attr:`keyframes`
    (a thread-safe bounded buffer other threads may read).
    """

    def __init__(
        self,
        calibration: StereoCalibration,
        *,
        config: OdometryConfig | None = None,
        keyframe_config: KeyframeConfig | None = None,
        matching_config: MatchingConfig | None = None,
        initial_pose: ArrayLike | None = None,
    ) -> None:
        self.calibration = calibration
        self.K = calibration.K_rect
        self.config = config or OdometryConfig()
        self.keyframe_config = keyframe_config or KeyframeConfig()
        self.matching_config = matching_config or MatchingConfig()
        pose = np.eye(4) if initial_pose is None else np.asarray(initial_pose, dtype=np.float64)
        if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
            raise FrontendError(f"initial_pose must be a finite (4, 4) matrix, got shape {pose.shape}")
        self.pose: F64 = pose.copy()
        self.selector = KeyframeSelector(self.keyframe_config)
        self.keyframes: KeyframeBuffer[Keyframe] = KeyframeBuffer(self.keyframe_config.buffer_capacity)
        self.keyframe: Keyframe | None = None
        self._guess: F32 = np.zeros((0, 2), np.float32)
        self._T_camera_keyframe: F64 = np.eye(4)
        self.frames = 0

    def track(
        self, left: NDArray[np.uint8], prior: DepthPrior, *, exclude: NDArray[np.bool_] | None = None
    ) -> TrackingResult:
        """Track one rectified left image (H, W[, 3]) uint8 with its depth prior; ``exclude`` (H, W) bool marks
        pixels (instruments) where no feature may be used. Returns the pose and diagnostics; never raises on
        tracking failure (only on malformed inputs). The same as :meth:`track_image` then :meth:`finish`."""
        step = self._track_grey(self._checked_grey(left, prior, exclude), exclude)
        return step if isinstance(step, TrackingResult) else self.finish(step, prior)

    def track_image(
        self, left: NDArray[np.uint8], *, exclude: NDArray[np.bool_] | None = None
    ) -> TrackingResult | PendingFrame:
        """The first half of :meth:`track`: the frame's pose from its image alone.

        Most frames need no depth prior (the keyframe's points give the pose): they come back as a
        :class:`TrackingResult`. A frame that may become a keyframe (the first, a new keyframe, a restart
        after tracking was lost) comes back as a :class:`PendingFrame`: hand it with its prior to
        :meth:`finish` before tracking the next frame. A live tracker publishes the pose as soon as the image
        arrives and waits for the slower prior only for keyframes.
        """
        return self._track_grey(self._checked_grey(left, None, exclude), exclude)

    def _checked_grey(
        self, left: NDArray[np.uint8], prior: DepthPrior | None, exclude: NDArray[np.bool_] | None
    ) -> NDArray[np.uint8]:
        grey = _grey(left)
        if grey.shape[::-1] != self.calibration.size:
            raise FrontendError(f"image is {grey.shape[1]}x{grey.shape[0]}, calibration is {self.calibration.size}")
        if prior is not None and prior.depth.shape != grey.shape:
            raise FrontendError(f"depth prior is {prior.depth.shape}, expected the image's {grey.shape}")
        if exclude is not None and exclude.shape != grey.shape:
            raise FrontendError(f"exclude mask is {exclude.shape}, expected the image's {grey.shape}")
        return grey

    def _track_grey(self, grey: NDArray[np.uint8], exclude: NDArray[np.bool_] | None) -> TrackingResult | PendingFrame:
        index = self.frames
        self.frames += 1
        if self.keyframe is None:
            return PendingFrame(index, grey, exclude, "first", 0, 0, float("nan"), 0.0, -1, "first")
        keyframe = self.keyframe
        if self.config.tracker == "klt":
            keep, current, self._guess = track_klt(
                keyframe.image, keyframe.points_2d, self._guess, grey, exclude, self.config
            )
        else:
            keep, current = track_sift(keyframe.descriptors, grey, exclude, self.config, self.matching_config)
        tracked = len(keep)
        solved = None
        if tracked >= max(self.config.min_inliers, 6):
            solved = solve_pnp(keyframe.points_3d[keep], current, self.K, self._T_camera_keyframe, self.config)
        inliers, error = (0, float("nan")) if solved is None else solved[1:]
        if solved is None or inliers < self.config.min_inliers or error > self.config.max_reprojection_px:
            return self._lost(index, grey, exclude, tracked, inliers=inliers, error=error)
        T_camera_keyframe = solved[0]
        self._T_camera_keyframe = T_camera_keyframe
        self.pose = keyframe.T_world_camera @ invert_se3(T_camera_keyframe)
        overlap = inliers / max(len(keyframe.points_2d), 1)
        decision = self.selector.consider(self.pose, overlap=overlap, image=grey)
        if decision.is_keyframe:
            return PendingFrame(
                index,
                grey,
                exclude,
                "keyframe",
                tracked,
                inliers,
                error,
                overlap,
                keyframe.frame_index,
                decision.reason,
            )
        return self._result(
            index, False, tracked, inliers, error, overlap, keyframe.frame_index, False, decision.reason
        )

    def finish(self, pending: PendingFrame, prior: DepthPrior | None) -> TrackingResult:
        """The second half of :meth:`track`: make the pending frame a keyframe with its ``prior`` (None: the prior
        never came, so the frame cannot become one and tracking goes on against the current keyframe)."""
        if prior is not None and prior.depth.shape != pending.grey.shape:
            raise FrontendError(f"depth prior is {prior.depth.shape}, expected the image's {pending.grey.shape}")
        made = prior is not None and self._make_keyframe(pending.index, pending.grey, prior, pending.exclude)
        if pending.kind == "first":
            if made:
                self.selector.reset(self.pose)
                self.selector.consider(self.pose, image=pending.grey)  # enters the sharpness history
            count = len(self.keyframe.points_2d) if made and self.keyframe is not None else 0
            error = 0.0 if made else float("nan")
            return self._result(
                pending.index,
                not made,
                count,
                count,
                error,
                float(made),
                pending.index if made else -1,
                made,
                "first" if made else "",
            )
        if not made and self.keyframe is not None:
            self.selector.reset(self.keyframe.T_world_camera)
        elif made and pending.kind == "lost":
            self.selector.reset(self.pose)
        lost = pending.kind == "lost"
        reason = "lost" if lost and made else pending.reason if not lost else ""
        return self._result(
            pending.index,
            lost,
            pending.tracked,
            pending.inliers,
            pending.error,
            pending.overlap,
            pending.keyframe_index,
            made,
            reason,
        )

    def _result(
        self,
        index: int,
        lost: bool,
        tracked: int,
        inliers: int,
        error: float,
        overlap: float,
        keyframe_index: int,
        is_keyframe: bool,
        reason: str,
    ) -> TrackingResult:
        return TrackingResult(
            frame_index=index,
            T_world_camera=self.pose.copy(),
            tracking_lost=lost,
            tracked=tracked,
            inliers=inliers,
            reprojection_error_px=error,
            overlap=overlap,
            keyframe_index=keyframe_index,
            is_keyframe=is_keyframe,
            keyframe_reason=reason,
        )

    def _lost(
        self,
        index: int,
        grey: NDArray[np.uint8],
        exclude: NDArray[np.bool_] | None,
        tracked: int,
        *,
        inliers: int,
        error: float,
    ) -> TrackingResult | PendingFrame:
        """Keep the last pose; restart from this frame as a keyframe at that pose unless it is blurred."""
        keyframe_index = self.keyframe.frame_index if self.keyframe is not None else -1
        decision = self.selector.consider(self.pose, overlap=0.0, image=grey)
        if decision.reason != "blurred":
            return PendingFrame(index, grey, exclude, "lost", tracked, inliers, error, 0.0, keyframe_index, "lost")
        if self.keyframe is not None:
            self.selector.reset(self.keyframe.T_world_camera)
        return self._result(index, True, tracked, inliers, error, 0.0, keyframe_index, False, "blurred")

    def _make_keyframe(
        self,
        index: int,
        grey: NDArray[np.uint8],
        prior: DepthPrior,
        exclude: NDArray[np.bool_] | None,
    ) -> bool:
        """Make this frame the keyframe if it has at least ``min_inliers`` features with depth."""
        allowed = prior.depth > 0
        filled = getattr(prior, "filled", None)  # hole-filled depth is interpolated, not measured: not used
        if filled is not None:
            allowed &= ~filled
        if exclude is not None:
            allowed &= ~exclude
        mask = cv2.erode(allowed.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
        descriptors: F32 | None = None
        if self.config.tracker == "klt":
            corners = cv2.goodFeaturesToTrack(
                grey, self.config.max_features, 0.01, self.config.min_feature_distance_px, mask=mask, blockSize=7
            )
            # whole-pixel corners: Lucas-Kanade tracks the patch around whatever position is given
            points = np.zeros((0, 2), np.float32) if corners is None else corners.reshape(-1, 2).astype(np.float32)
        else:
            features = detect_sift(
                grey,
                max_features=self.config.max_features,
                contrast_threshold=self.matching_config.sift_contrast_threshold,
                exclude=mask == 0,
            )
            points, descriptors = features.keypoints, features.descriptors
        depth = sample_depth(prior.depth, points)
        good = depth > 0
        if len(points):  # sub-pixel keypoints (SIFT) can round onto an excluded or depthless pixel
            rows = np.clip(np.rint(points[:, 1]).astype(int), 0, grey.shape[0] - 1)
            columns = np.clip(np.rint(points[:, 0]).astype(int), 0, grey.shape[1] - 1)
            good &= allowed[rows, columns]
        if int(good.sum()) < self.config.min_inliers:
            return False
        points, depth = points[good].astype(np.float32), depth[good].astype(np.float64)
        xyz = backproject_points(points, depth, self.K).astype(np.float32)
        keyframe = Keyframe(
            frame_index=index,
            T_world_camera=self.pose.copy(),
            image=grey.copy(),
            points_2d=points,
            points_3d=xyz,
            descriptors=None if descriptors is None else descriptors[good],
        )
        self.keyframe = keyframe
        self.keyframes.push(keyframe)
        self._guess = points.copy()
        self._T_camera_keyframe = np.eye(4)
        return True
