"""Plain OpenCV SGBM: the baseline the depth prior backends are compared with (benchmarks, tests)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.frontend.refine import grey
from stereo_nerf_core.frontend.sgbm import check_rectified_pair
from stereo_nerf_core.geometry.camera import StereoCalibration


def opencv_sgbm_prior(
    left: NDArray[np.uint8],
    right: NDArray[np.uint8],
    calibration: StereoCalibration,
    *,
    num_disparities: int,
    min_disparity: int = 0,
    block_size: int = 5,
) -> DepthPrior:
    """Plain OpenCV SGBM, the comparison baseline: grey, 3-way, ``P1 = 8 b^2``, ``P2 = 32 b^2``, uniqueness
    10 %, speckles up to 100 px removed, OpenCV's internal left-right check (``disp12MaxDiff = 1``); no
    padding, row alignment, filling or refinement. Confidence is 1 where there is a disparity."""
    check_rectified_pair(left, right, calibration)
    matcher = cv2.StereoSGBM.create(
        minDisparity=min_disparity,
        numDisparities=num_disparities,
        blockSize=block_size,
        P1=8 * block_size * block_size,
        P2=32 * block_size * block_size,
        disp12MaxDiff=1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    raw = matcher.compute(grey(left), grey(right)).astype(np.float32) / 16.0
    disparity = np.where(raw > min_disparity, raw, 0).astype(np.float32)
    depth = calibration.depth_from_disparity(disparity)
    return DepthPrior(disparity, depth, (depth > 0).astype(np.float32))


class OpenCvSgbmBaseline:
    """:func:`opencv_sgbm_prior` as a :class:`~stereo_nerf_core.frontend.depth_prior.PriorBackend` (not registered)."""

    def __init__(self, num_disparities: int, *, min_disparity: int = 0, block_size: int = 5) -> None:
        self.num_disparities = num_disparities
        self.min_disparity = min_disparity
        self.block_size = block_size

    def estimate(self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration) -> DepthPrior:
        """The plain SGBM prior of a rectified pair."""
        return opencv_sgbm_prior(
            left,
            right,
            calibration,
            num_disparities=self.num_disparities,
            min_disparity=self.min_disparity,
            block_size=self.block_size,
        )
