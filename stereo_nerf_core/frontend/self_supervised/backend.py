"""``depth_prior.backend: self_supervised``: the monocular depth network trained from the stream.

The weights come from ``depth_prior.self_supervised_weights_path`` (written by ``stereo-nerf
train-self-supervised``). Only the rectified left image is used (the right one may be occluded or
missing in content); the depth is scaled by ``fx / fx_train`` when the camera's focal length differs
from the training stream's. Depths outside ``[min_depth_m, max_depth_m]`` are emptied; confidence is 1
where there is depth (the network gives none); nothing is marked filled. torch is imported only
when this backend is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.frontend.depth_prior import DepthPrior, register_prior_backend
from stereo_nerf_core.frontend.sgbm import check_rectified_pair
from stereo_nerf_core.geometry.camera import StereoCalibration


class SelfSupervisedBackend:
    """Runs the weights of ``depth_prior.self_supervised_weights_path`` on the rectified left image."""

    def __init__(self, config: DepthPriorConfig) -> None:

        from stereo_nerf_core.devices import resolve_device
        from stereo_nerf_core.frontend.self_supervised.weights import load_weights, predict_depth

        self.config = config
        self.weights = load_weights(config.self_supervised_weights_path)
        self.device = resolve_device(config.device, parameter="depth_prior.device")
        self.model: Any = self.weights.network(self.device)
        self._predict = predict_depth

    def estimate(self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration) -> DepthPrior:
        """The network's prior of a rectified uint8 pair (H, W[, 3]) (the right image is only checked)."""
        check_rectified_pair(left, right, calibration)
        scale = calibration.fx / self.weights.fx_px if self.weights.fx_px > 0 else 1.0
        depth = self._predict(
            self.model,
            left,
            downscale=self.weights.downscale,
            min_depth_m=self.weights.min_depth_m,
            max_depth_m=self.weights.max_depth_m,
            depth_scale=scale,
        )
        keep = np.isfinite(depth) & (depth >= self.config.min_depth_m) & (depth <= self.config.max_depth_m)
        depth = np.where(keep, depth, 0).astype(np.float32)
        return DepthPrior(
            disparity=np.where(keep, calibration.disparity_from_depth(depth), 0).astype(np.float32),
            depth=depth,
            confidence=keep.astype(np.float32),
        )


register_prior_backend("self_supervised", SelfSupervisedBackend)
