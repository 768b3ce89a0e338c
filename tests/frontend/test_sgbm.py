import cv2
import numpy as np
import pytest

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.sgbm import disparity_search_range, sgbm_depth_prior
from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, StereoCalibration


def _rectified_rig(
    width: int = 192, height: int = 144, fx: float = 160.0, baseline: float = 0.0041
) -> StereoCalibration:
    K = np.array([[fx, 0, width / 2 - 0.5], [0, fx, height / 2 - 0.5], [0, 0, 1]])
    camera = PinholeCamera(width, height, K)
    P_left = np.hstack([K, np.zeros((3, 1))])
    P_right = P_left.copy()
    P_right[0, 3] = -fx * baseline
    return StereoCalibration(RectifiedView(camera, np.eye(3), P_left), RectifiedView(camera, np.eye(3), P_right))


def _textured_pair(disparity: float, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    height, width = shape
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (height, width + 64)).astype(np.float32), (0, 0), 1.2)
    texture = cv2.normalize(texture, None, 20, 235, cv2.NORM_MINMAX)
    u, v = np.meshgrid(np.arange(width, dtype=np.float32) + 32, np.arange(height, dtype=np.float32))
    left = cv2.remap(texture, u, v, cv2.INTER_CUBIC)
    right = cv2.remap(texture, u + np.float32(disparity), v, cv2.INTER_CUBIC)  # right(x) = left(x + d)
    return left.astype(np.uint8), right.astype(np.uint8)


def test_plane_at_known_depth_is_recovered_with_subpixel_accuracy() -> None:
    rig = _rectified_rig()
    left, right = _textured_pair(10.4, (144, 192))
    prior = sgbm_depth_prior(left, right, rig, DepthPriorConfig())
    inner = prior.valid[10:-10, 40:-10]
    assert inner.mean() > 0.95
    # depth = fx * B / d = 160 * 0.0041 / 10.4 = 0.063077 m
    assert np.median(prior.depth[10:-10, 40:-10][inner]) == pytest.approx(0.063077, rel=0.01)
    # raw SGBM pixel-locks 10.4 px to 10.19; the Gauss-Newton refinement must remove that bias
    assert np.median(prior.disparity[10:-10, 40:-10][inner]) == pytest.approx(10.4, abs=0.05)
    assert np.mean(np.abs(prior.disparity[10:-10, 40:-10][inner] - 10.4)) < 0.1
    unrefined = sgbm_depth_prior(left, right, rig, DepthPriorConfig(subpixel_refinement=False))
    assert abs(np.median(unrefined.disparity[10:-10, 40:-10][inner]) - 10.4) > 0.15
    assert prior.confidence.max() <= 1.0 and prior.confidence[~prior.valid].max(initial=0) == 0


def test_left_right_check_rejects_occlusions_and_the_search_range_covers_the_depth_range() -> None:
    rig = _rectified_rig()
    low, count = disparity_search_range(rig, DepthPriorConfig(min_depth_m=0.02, max_depth_m=0.3))
    assert low <= 160 * 0.0041 / 0.3 and low + count >= 160 * 0.0041 / 0.02 and count % 16 == 0
    left, right = _textured_pair(10.4, (144, 192))
    right[:, 60:100] = np.random.default_rng(1).integers(0, 255, (144, 40))  # breaks correspondence there
    prior = sgbm_depth_prior(left, right, rig, DepthPriorConfig(fill_holes=False))
    assert prior.valid[:, 75:105].mean() < 0.3
    assert prior.valid[:, 130:].mean() > 0.9  # padding gives the right border disparities too


def test_mismatched_inputs_raise_clear_errors() -> None:
    rig = _rectified_rig()
    left, right = _textured_pair(10.0, (144, 192))
    with pytest.raises(FrontendError, match="differ in size"):
        sgbm_depth_prior(left, right[:, :100], rig, DepthPriorConfig())
    with pytest.raises(FrontendError, match="uint8"):
        sgbm_depth_prior(left.astype(np.float32), right.astype(np.float32), rig, DepthPriorConfig())
    with pytest.raises(FrontendError, match="calibration is"):
        sgbm_depth_prior(left[:100], right[:100], rig, DepthPriorConfig())
