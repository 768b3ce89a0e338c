"""Stages that the ROS nodes wrap and the offline replay runs in-process, with the same parameters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior, make_prior_backend
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.geometry.camera import RectifiedView, StereoCalibration
from stereo_nerf_core.geometry.errors import GeometryError


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

    def get(self, left: RectifiedView, right: RectifiedView) -> StereoCalibration:
        """The calibration of this pair; raises :class:`FrontendError` if the pair is not a stereo rig."""
        key = b"".join(
            np.ascontiguousarray(a, dtype=np.float64).tobytes()
            for view in (left, right)
            for a in (view.camera.K, view.camera.D, view.R, view.P, np.array(view.camera.size, dtype=np.float64))
        )
        if key != self._key or self._calibration is None:
            try:
                self._calibration = StereoCalibration(left, right)
            except GeometryError as error:
                raise FrontendError(f"left/right camera_info do not form a rectifiable pair: {error}") from error
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

    def estimate_prior(
        self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration
    ) -> DepthPrior:
        """The dense prior of an already rectified pair."""
        return self.backend.estimate(left, right, calibration)
