"""Stages that the ROS nodes wrap and the offline replay runs in-process, with the same parameters."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior, make_prior_backend
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.geometry.camera import RectifiedView, StereoCalibration, left_only_calibration
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.geometry.errors import GeometryError
from stereo_nerf_core.spine.frames import StereoFrame


@dataclass(frozen=True)
class RectifiedDepth:
    """Output of :class:`StereoDepthStage` for one synchronised pair."""

    stamp_ns: int
    calibration: StereoCalibration
    left: NDArray[np.uint8]
    """(H, W, 3) rectified left image, RGB."""
    right: NDArray[np.uint8]
    """(H, W, 3) rectified right image, RGB."""
    prior: DepthPrior


class CalibrationCache:
    """Builds a :class:`StereoCalibration` once per distinct pair of camera models (maps are costly)."""

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._calibration: StereoCalibration | None = None

    def get(self, left: RectifiedView, right: RectifiedView | None) -> StereoCalibration:
        """The calibration of this pair (``right`` None: of a monocular camera, :func:`left_only_calibration`);
        raises :class:`FrontendError` if the pair is not a stereo rig."""
        key = b"".join(
            np.ascontiguousarray(a, dtype=np.float64).tobytes()
            for view in ((left, right) if right is not None else (left,))
            for a in (view.camera.K, view.camera.D, view.R, view.P, np.array(view.camera.size, dtype=np.float64))
        )
        if key != self._key or self._calibration is None:
            try:
                self._calibration = StereoCalibration(left, right) if right is not None else left_only_calibration(left)
            except GeometryError as error:
                side = (
                    "left/right camera_info do not form a rectifiable pair" if right is not None else "left camera_info"
                )
                raise FrontendError(f"{side}: {error}") from error
            self._key = key
        return self._calibration


class StereoDepthStage:
    """Rectifies a raw pair with its camera models and computes the dense depth prior."""

    def __init__(self, config: DepthPriorConfig) -> None:
        self.config = config
        self.backend = make_prior_backend(config)
        self.calibrations = CalibrationCache()

    def process(
        self,
        stamp_ns: int,
        left_rgb: NDArray[np.uint8],
        right_rgb: NDArray[np.uint8],
        left_view: RectifiedView,
        right_view: RectifiedView,
    ) -> RectifiedDepth:
        """Raw RGB pair (H, W, 3) and the two camera models -> rectified images and depth prior."""
        calibration, left, right = self.rectify(left_rgb, right_rgb, left_view, right_view)
        prior = self.backend.estimate(left, right, calibration)
        return RectifiedDepth(stamp_ns, calibration, left, right, prior)

    def rectify(
        self,
        left_rgb: NDArray[np.uint8],
        right_rgb: NDArray[np.uint8],
        left_view: RectifiedView,
        right_view: RectifiedView,
    ) -> tuple[StereoCalibration, NDArray[np.uint8], NDArray[np.uint8]]:
        """The pair's calibration and its rectified images; checks sizes against the camera models."""
        if left_rgb.shape != right_rgb.shape:
            raise FrontendError(f"left image {left_rgb.shape} and right image {right_rgb.shape} differ in size")
        calibration = self.calibrations.get(left_view, right_view)
        if left_rgb.shape[1::-1] != calibration.size:
            raise FrontendError(
                f"images are {left_rgb.shape[1]}x{left_rgb.shape[0]} but camera_info says "
                f"{calibration.size[0]}x{calibration.size[1]}"
            )
        left, right = calibration.rectify(left_rgb, right_rgb)
        return calibration, left, right

    def rectify_frame(self, frame: StereoFrame) -> tuple[StereoCalibration, NDArray[np.uint8], NDArray[np.uint8]]:
        """:meth:`rectify` of a frame's pair; :class:`~stereo_nerf_core.io.errors.BagError` for a monocular one."""
        left, right = frame.stereo()
        return self.rectify(left.rgb, right.rgb, left.view, right.view)

    def estimate_prior(
        self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration
    ) -> DepthPrior:
        """The dense prior of an already rectified pair."""
        return self.backend.estimate(left, right, calibration)


class MonocularStage:
    """A frame of a monocular recording: its left image resampled onto the camera's rectified grid (undistorted)
    and the prior the bag carries (/stereo/left/depth_prior; confidence 1 where it has depth), else none."""

    def __init__(self) -> None:
        self.calibrations = CalibrationCache()

    def process(self, frame: StereoFrame) -> tuple[StereoCalibration, NDArray[np.uint8], DepthPrior]:
        """(calibration, rectified left (H, W, 3), prior on the rectified grid)."""
        calibration = self.calibrations.get(frame.left.view, None)
        if frame.left.rgb.shape[1::-1] != calibration.size:
            raise FrontendError(
                f"image is {frame.left.rgb.shape[1]}x{frame.left.rgb.shape[0]} but camera_info says "
                f"{calibration.size[0]}x{calibration.size[1]}"
            )
        lx, ly = calibration.maps[0]
        left = cv2.remap(frame.left.rgb, lx, ly, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return calibration, left, provided_prior(calibration, frame.depth_prior)


def provided_prior(calibration: StereoCalibration, depth_raw: NDArray[np.float32] | None) -> DepthPrior:
    """A depth map on the left raw grid (NaN = none; None: no map) as a prior on the rectified grid: confidence 1
    where it has depth, no disparity (there is no right camera)."""
    width, height = calibration.size
    depth = np.zeros((height, width), np.float32)
    if depth_raw is not None:
        rectified = rectify_left_depth(calibration, depth_raw)
        depth = np.where(np.isfinite(rectified) & (rectified > 0), rectified, 0).astype(np.float32)
    confidence = (depth > 0).astype(np.float32)
    return DepthPrior(disparity=np.zeros_like(depth), depth=depth, confidence=confidence)
