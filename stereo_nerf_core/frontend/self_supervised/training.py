"""Online training of the depth network from a rectified stereo stream, by view synthesis.

Each step takes ``batch_size`` target frames from the buffer and predicts their disparity at three
scales (each upsampled to the training resolution). Every target is synthesised from its right image
through the known rig and, with ``temporal_sources`` and poses, from its stream neighbours (previous and
next frame) through their relative pose. The loss is the minimum reprojection error over those sources
(alpha * (1 - SSIM) / 2 + (1 - alpha) * L1) on auto-masked pixels plus the edge-aware smoothness
(weighted by ``smoothness_weight / 2**scale``), averaged over the scales.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch.nn import functional

from stereo_nerf_core.config import SelfSupervisedConfig
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.self_supervised.losses import (
    edge_aware_smoothness,
    identity_error,
    view_synthesis_loss,
)
from stereo_nerf_core.frontend.self_supervised.network import SCALES, DepthNet, sigmoid_to_disparity
from stereo_nerf_core.frontend.self_supervised.warping import warp_right_to_left, warp_through_depth
from stereo_nerf_core.frontend.self_supervised.weights import DepthWeights, image_tensor, predict_depth


@dataclass(frozen=True)
class StreamFrame:
    """One rectified stereo pair of the stream, with its pose when known."""

    stamp_ns: int
    left: NDArray[np.uint8]
    """(H, W, 3) rectified left image, RGB."""
    right: NDArray[np.uint8]
    """(H, W, 3) rectified right image, RGB."""
    K: NDArray[np.float64]
    """(3, 3) rectified left intrinsics."""
    baseline_m: float
    disparity_offset_px: float
    """cx_left - cx_right of the rectified pair (0 with zero-disparity rectification)."""
    T_world_camera: NDArray[np.float64] | None = None
    """(4, 4) pose of the rectified left camera; None: no temporal sources for this frame."""


@dataclass(frozen=True)
class _Sample:
    left: Tensor
    """(3, h, w) at the training resolution."""
    right: Tensor
    K: Tensor
    """(3, 3) at the training resolution."""
    baseline_m: float
    offset_px: float
    T_world_camera: Tensor | None


@dataclass(frozen=True)
class StepLoss:
    """Losses of one training step (means over the scales)."""

    total: float
    reprojection: float
    smoothness: float
    kept_share: float
    """Share of pixels kept by the validity and auto-masks at the finest scale."""


class OnlineDepthTrainer:
    """Trains a :class:`DepthNet` from :class:`StreamFrame` objects added as they arrive (oldest dropped)."""

    def __init__(
        self, config: SelfSupervisedConfig, *, min_depth_m: float, max_depth_m: float, device: str = "cpu"
    ) -> None:
        if not 0 < min_depth_m < max_depth_m:
            raise FrontendError(
                f"depth range must satisfy 0 < min_depth_m < max_depth_m, got {min_depth_m}, {max_depth_m}"
            )
        self.config = config
        self.min_depth_m, self.max_depth_m = min_depth_m, max_depth_m
        self.device = torch.device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.model = DepthNet(
                base_channels=config.base_channels, initial_sigmoid=initial_sigmoid(min_depth_m, max_depth_m)
            ).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.rng = np.random.default_rng(config.seed)
        self.buffer: deque[_Sample] = deque(maxlen=config.buffer_capacity)
        self.fx_px = 0.0
        self.steps = 0
        self.history: list[StepLoss] = []

    def add_frame(self, frame: StreamFrame) -> None:
        """Append a frame of the stream (frames must come in stream order for the temporal sources)."""
        if frame.left.shape != frame.right.shape or frame.left.ndim != 3 or frame.left.shape[2] != 3:
            raise FrontendError(
                f"stream frame {frame.stamp_ns}: left {frame.left.shape} and right {frame.right.shape} "
                "must both be (H, W, 3)"
            )
        scale = self.config.downscale
        K = np.asarray(frame.K, dtype=np.float64).copy()
        K[:2, :2] /= scale
        K[:2, 2] = (K[:2, 2] + 0.5) / scale - 0.5
        self.fx_px = float(frame.K[0, 0])
        pose = None if frame.T_world_camera is None else torch.as_tensor(frame.T_world_camera, dtype=torch.float64)
        self.buffer.append(
            _Sample(
                left=image_tensor(frame.left, scale, self.device)[0],
                right=image_tensor(frame.right, scale, self.device)[0],
                K=torch.as_tensor(K, dtype=torch.float32, device=self.device),
                baseline_m=frame.baseline_m,
                offset_px=frame.disparity_offset_px / scale,
                T_world_camera=None if pose is None else pose.to(self.device),
            )
        )

    def step(self) -> StepLoss:
        """One Adam step on a batch of targets drawn uniformly from the buffer."""
        if not self.buffer:
            raise FrontendError("the self-supervised trainer has no frames: add_frame() before training")
        count = min(self.config.batch_size, len(self.buffer))
        indices = self.rng.choice(len(self.buffer), size=count, replace=False)
        self.model.train()
        total, reprojection, smoothness, kept = self._loss([int(i) for i in indices])
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.steps += 1
        result = StepLoss(float(total.detach()), reprojection, smoothness, kept)
        self.history.append(result)
        return result

    def train(
        self, *, max_steps: int | None = None, budget_s: float | None = None, anneal: bool = False
    ) -> list[StepLoss]:
        """Steps until ``max_steps`` steps or ``budget_s`` seconds (whichever first); at least one is needed.

        With ``anneal`` (a run of known length, not online training) the learning rate holds for the first half
        of the run (by steps or time, whichever is further) and falls along a half cosine to 1/10 by its end.
        """
        if max_steps is None and budget_s is None:
            raise FrontendError("train() needs max_steps or budget_s")
        start, losses = time.perf_counter(), list[StepLoss]()
        while True:
            progress = max(
                0.0 if max_steps is None else len(losses) / max(max_steps, 1),
                0.0 if budget_s is None else (time.perf_counter() - start) / max(budget_s, 1e-9),
            )
            if progress >= 1.0:
                break
            if anneal:
                self._set_learning_rate(self.config.learning_rate * annealed_factor(progress))
            losses.append(self.step())
        if anneal:
            self._set_learning_rate(self.config.learning_rate)
        return losses

    def _set_learning_rate(self, value: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = value

    def predict_depth(self, left: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Metric depth (H, W) of a rectified left image (H, W, 3) of the training camera."""
        return predict_depth(
            self.model,
            left,
            downscale=self.config.downscale,
            min_depth_m=self.min_depth_m,
            max_depth_m=self.max_depth_m,
        )

    def weights(self) -> DepthWeights:
        """The current network and its inference settings (for :func:`save_weights`)."""
        return DepthWeights(
            state_dict={name: value.detach().cpu().clone() for name, value in self.model.state_dict().items()},
            base_channels=self.config.base_channels,
            downscale=self.config.downscale,
            min_depth_m=self.min_depth_m,
            max_depth_m=self.max_depth_m,
            fx_px=self.fx_px,
            steps=self.steps,
        )

    def _neighbour(self, index: int, offset: int) -> tuple[Tensor, Tensor] | None:
        """(source image (3, h, w), T_source_target (4, 4)) of the buffer neighbour, when both have poses."""
        other = index + offset
        if not self.config.temporal_sources or not 0 <= other < len(self.buffer):
            return None
        target, source = self.buffer[index], self.buffer[other]
        if target.T_world_camera is None or source.T_world_camera is None:
            return None
        relative = torch.linalg.inv(source.T_world_camera) @ target.T_world_camera  # float64, then float32
        return source.left, relative.float()

    def _loss(self, indices: list[int]) -> tuple[Tensor, float, float, float]:
        samples = [self.buffer[i] for i in indices]
        target = torch.stack([s.left for s in samples])
        right = torch.stack([s.right for s in samples])
        K = torch.stack([s.K for s in samples])
        baseline = torch.tensor([s.baseline_m for s in samples], device=self.device)
        offset = torch.tensor([s.offset_px for s in samples], device=self.device)
        focal_baseline = (K[:, 0, 0] * baseline).reshape(-1, 1, 1, 1)
        temporal = []
        for offset_frames in (-1, 1):
            found = [self._neighbour(i, offset_frames) for i in indices]
            images = torch.stack([f[0] if f else s.left for f, s in zip(found, samples, strict=True)])
            poses = torch.stack([f[1] if f else torch.eye(4, device=self.device) for f in found])
            present = torch.tensor([f is not None for f in found], device=self.device).reshape(-1, 1, 1, 1)
            temporal.append((images, poses, present))
        height, width = target.shape[-2:]
        identity = None
        if self.config.automask:
            with torch.no_grad():
                identity = identity_error(
                    target,
                    [right, *(images for images, _, _ in temporal)],
                    [
                        torch.ones(len(samples), dtype=torch.bool, device=self.device),
                        *(present for _, _, present in temporal),
                    ],
                    alpha=self.config.ssim_alpha,
                )
        sigmoids = self.model(target)
        totals, reprojections, smooths, kept_share = [], [], [], 0.0
        for scale, sigmoid in enumerate(sigmoids[:SCALES]):
            full = functional.interpolate(sigmoid, size=(height, width), mode="bilinear", align_corners=False)
            disparity = sigmoid_to_disparity(
                full, focal_baseline=focal_baseline, min_depth_m=self.min_depth_m, max_depth_m=self.max_depth_m
            )
            depth = focal_baseline / disparity
            warped = [warp_right_to_left(right, depth, K, baseline, offset)]
            for images, poses, present in temporal:
                image, valid = warp_through_depth(images, depth, K, poses)
                warped.append((image, valid & present))
            loss, keep = view_synthesis_loss(target, warped, alpha=self.config.ssim_alpha, identity=identity)
            small = functional.interpolate(target, size=sigmoid.shape[-2:], mode="area") if scale else target
            smooth = edge_aware_smoothness(sigmoid, small) / 2**scale
            totals.append(loss + self.config.smoothness_weight * smooth)
            reprojections.append(float(loss.detach()))
            smooths.append(float(smooth.detach()))
            if scale == 0:
                kept_share = float(keep.float().mean())
        return torch.stack(totals).mean(), float(np.mean(reprojections)), float(np.mean(smooths)), kept_share


def initial_sigmoid(min_depth_m: float, max_depth_m: float) -> float:
    """The sigmoid whose depth is the geometric mean of the depth range (where the untrained network starts)."""
    middle = (min_depth_m * max_depth_m) ** 0.5
    return (1.0 / middle - 1.0 / max_depth_m) / (1.0 / min_depth_m - 1.0 / max_depth_m)


def annealed_factor(progress: float) -> float:
    """Learning-rate factor at ``progress`` in [0, 1] of a run: 1 for the first half, then a half cosine to 0.1."""
    if progress <= 0.5:
        return 1.0
    return 0.1 + 0.45 * (1.0 + math.cos(math.pi * (min(progress, 1.0) - 0.5) / 0.5))
