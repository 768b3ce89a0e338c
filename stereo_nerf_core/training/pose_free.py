"""Pose-free reconstruction, stage 1: camera poses (and prior scale/shift) from the depth priors alone.

The NoPe-NeRF line without a field: every frame ``i > 0`` has a learnable relative pose
``T_{i-1,i} = T0_{i-1,i} @ se3_exp(xi_i)`` (``T0`` identity, or the odometry's relative pose), chained
from the first frame (which fixes the gauge: its pose is the identity or its given pose), and every
prior a learnable depth scale and shift ``Z' = exp(log_scale_i) * Z + shift_i`` (stereo priors start
metric: scale 1, shift 0; the first frame's stay fixed, and a regulariser pulls the others back).
Over every pair ``(i - k, i)``, ``k = 1 .. max_pair_offset``, two losses:

* chamfer: frame ``i``'s back-projected prior points moved into frame ``i - k`` against frame
  ``i - k``'s (nearest neighbour by ``torch.cdist``, both directions, only points that project into
  the other image), in units of the median prior depth;
* photometric surface loss: frame ``i``'s pixels warped through their prior depth into frame ``i - k``
  (bilinear ``grid_sample`` of the slightly blurred image), mean absolute RGB difference over pixels
  landing on the other frame's tissue.

All pairs are optimised jointly with Adam; translations are learnt in units of the median prior
depth so one learning rate suits rotation and translation (as in :mod:`~stereo_nerf_core.training.poses`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn import functional

from stereo_nerf_core.config import PoseFreeConfig
from stereo_nerf_core.geometry.lie import backproject_pixels, project_points, se3_exp
from stereo_nerf_core.geometry.transforms import invert_se3
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe

Float = NDArray[np.float64]


@dataclass(frozen=True)
class PriorAlignment:
    """What stage 1 recovered."""

    poses: Float
    """(N, 4, 4) ``T_world_camera`` of every frame (the first frame's pose is the gauge)."""
    scales: Float
    """(N,) depth scale of every prior."""
    shifts_m: Float
    """(N,) depth shift of every prior, metres."""
    losses: list[float]
    """Total loss at every iteration."""


@dataclass(frozen=True)
class _Frames:
    """Stage 1's tensors of N frames of one size (H, W)."""

    rgb: Tensor
    """(N, 3, H, W) blurred RGB in [0, 1]."""
    tissue: Tensor
    """(N, 1, H, W) float tissue mask."""
    pixels: Tensor
    """(N, M, 2) sampled (u, v) pixel centres with a trusted prior, M = max(chamfer, photometric) points."""
    depth: Tensor
    """(N, M) prior depth Z of those pixels, metres."""
    colours: Tensor
    """(N, M, 3) blurred RGB of those pixels."""
    K: Tensor
    """(N, 3, 3)."""
    unit: float
    """Median prior depth, metres: the unit of translations and chamfer distances."""


def transform_points(T: Tensor, points: Tensor) -> Tensor:
    """``T`` (..., 4, 4) applied to points (..., M, 3)."""
    return points @ T[..., :3, :3].transpose(-1, -2) + T[..., None, :3, 3]


def nearest_distances(source: Tensor, target: Tensor, *, chunk: int = 8) -> Tensor:
    """(B, P) distance from every source point (B, P, 3) to its nearest target point (B, Q, 3), in chunks of pairs."""
    parts = [torch.cdist(source[i : i + chunk], target[i : i + chunk]).min(dim=-1).values
             for i in range(0, source.shape[0], chunk)]
    return torch.cat(parts) if parts else source.new_zeros(source.shape[:2])


def chamfer_loss(source: Tensor, target: Tensor, source_in: Tensor, target_in: Tensor) -> Tensor:
    """Symmetric chamfer distance of point clouds (B, P, 3) and (B, Q, 3), both in one frame.

    Only points flagged in ``source_in`` (B, P) / ``target_in`` (B, Q) (those seen by the other
    camera) count; the result is the mean of both directions' mean nearest distances.
    """
    forward = nearest_distances(source, target)
    backward = nearest_distances(target, source)
    return _masked_mean(forward, source_in) + _masked_mean(backward, target_in)


def sample_image(image: Tensor, pixels: Tensor, *, mode: str = "bilinear") -> Tensor:
    """(B, M, C) values of images (B, C, H, W) at pixel centres (B, M, 2) (zero outside)."""
    height, width = image.shape[-2:]
    grid = torch.stack([2 * pixels[..., 0] / (width - 1) - 1, 2 * pixels[..., 1] / (height - 1) - 1], dim=-1)
    sampled = functional.grid_sample(image, grid[:, :, None, :], mode=mode, padding_mode="zeros", align_corners=True)
    return sampled[..., 0].transpose(1, 2)


def inside_image(pixels: Tensor, z: Tensor, width: int, height: int, *, margin: float = 1.0) -> Tensor:
    """(..., M) bool: in front of the camera and at least ``margin`` px inside the image."""
    u, v = pixels[..., 0], pixels[..., 1]
    return (z > 0) & (u >= margin) & (u <= width - 1 - margin) & (v >= margin) & (v <= height - 1 - margin)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    weight = mask.to(values.dtype)
    return (values * weight).sum() / weight.sum().clamp_min(1.0)


class PriorPoses(nn.Module):
    """Learnable relative poses (chained from the first frame) and prior scale/shift of N frames."""

    origin: Tensor
    """(4, 4) pose of the first frame (buffer)."""
    relative0: Tensor
    """(N - 1, 4, 4) initial relative poses (buffer)."""

    def __init__(self, initial: Float, *, unit: float) -> None:
        super().__init__()
        count = initial.shape[0]
        relative = np.zeros((0, 4, 4))
        if count > 1:
            relative = np.stack([invert_se3(initial[i - 1]) @ initial[i] for i in range(1, count)])
        self.register_buffer("origin", torch.tensor(initial[0], dtype=torch.float32))
        self.register_buffer("relative0", torch.tensor(relative, dtype=torch.float32))
        self.xi = nn.Parameter(torch.zeros(count - 1, 6))
        self.log_scale = nn.Parameter(torch.zeros(count - 1))
        self.shift = nn.Parameter(torch.zeros(count - 1))
        self.unit = unit

    def relative(self) -> Tensor:
        """(N - 1, 4, 4) ``T_{i-1,i}``."""
        twist = torch.cat([self.xi[:, :3] * self.unit, self.xi[:, 3:]], dim=1)
        return self.relative0 @ se3_exp(twist)

    def poses(self) -> Tensor:
        """(N, 4, 4) ``T_world_camera``: the relative poses chained from the first frame."""
        chain = [self.origin]
        for step in self.relative():
            chain.append(chain[-1] @ step)
        return torch.stack(chain)

    def scales(self) -> Tensor:
        """(N,) depth scales (the first frame's is 1)."""
        return torch.cat([self.log_scale.new_ones(1), self.log_scale.exp()])

    def shifts(self) -> Tensor:
        """(N,) depth shifts in metres (the first frame's is 0)."""
        return torch.cat([self.shift.new_zeros(1), self.shift * self.unit])

    def regulariser(self) -> Tensor:
        """Mean squared log-scale and shift (in units): 0 at the metric start."""
        if self.shift.numel() == 0:
            return self.shift.new_zeros(())
        return (self.log_scale**2).mean() + (self.shift**2).mean()


def _frames(keyframes: Sequence[TrainingKeyframe], config: PoseFreeConfig) -> _Frames:
    shape = (keyframes[0].height, keyframes[0].width)
    generator = np.random.default_rng(config.seed)
    count = max(config.chamfer_points, config.photometric_points)
    rgb, tissue, pixels, depth, colours = [], [], [], [], []
    for keyframe in keyframes:
        if (keyframe.height, keyframe.width) != shape:
            raise TrainingError(
                f"pose-free alignment needs frames of one size {shape}; keyframe {keyframe.index} is "
                f"{(keyframe.height, keyframe.width)}"
            )
        image = keyframe.rgb.astype(np.float32) / 255.0
        if config.blur_sigma_px > 0:
            image = cv2.GaussianBlur(image, (0, 0), config.blur_sigma_px)
        trusted = keyframe.valid & (keyframe.depth > 0) & (keyframe.confidence >= config.min_confidence)
        rows, columns = np.nonzero(trusted)
        if rows.size < 16:
            raise TrainingError(
                f"keyframe {keyframe.index} has {rows.size} trusted prior pixels (tissue, depth, confidence >= "
                f"pose_free.min_confidence = {config.min_confidence}); pose-free alignment needs at least 16"
            )
        pick = generator.choice(rows.size, size=count, replace=rows.size < count)
        rgb.append(image.transpose(2, 0, 1))
        tissue.append(keyframe.valid[None].astype(np.float32))
        pixels.append(np.stack([columns[pick], rows[pick]], axis=1).astype(np.float32))
        depth.append(keyframe.depth[rows[pick], columns[pick]])
        colours.append(image[rows[pick], columns[pick]])
    unit = float(np.median(np.concatenate(depth)))
    return _Frames(
        rgb=torch.from_numpy(np.stack(rgb)),
        tissue=torch.from_numpy(np.stack(tissue)),
        pixels=torch.from_numpy(np.stack(pixels)),
        depth=torch.from_numpy(np.stack(depth).astype(np.float32)),
        colours=torch.from_numpy(np.stack(colours).astype(np.float32)),
        K=torch.tensor(np.stack([k.K for k in keyframes]), dtype=torch.float32),
        unit=unit,
    )


def pair_indices(count: int, max_offset: int) -> tuple[Tensor, Tensor]:
    """(target a, source b) frame indices of every pair ``(i - k, i)``, ``k = 1 .. max_offset``."""
    pairs = [(i - k, i) for k in range(1, max_offset + 1) for i in range(k, count)]
    if not pairs:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    a, b = zip(*pairs, strict=True)
    return torch.tensor(a), torch.tensor(b)


def alignment_losses(
    model: PriorPoses, frames: _Frames, a: Tensor, b: Tensor, config: PoseFreeConfig, *, chamfer: bool = True
) -> dict[str, Tensor]:
    """The chamfer (when ``chamfer``) and photometric losses of pairs (a, b) and the scale regulariser (unweighted)."""
    poses = model.poses()
    T_ab = torch.linalg.inv(poses[a]) @ poses[b]
    depth = frames.depth * model.scales()[:, None] + model.shifts()[:, None]
    points = backproject_pixels(frames.pixels, depth, frames.K)
    losses = {"scale": model.regulariser()}
    count = config.chamfer_points
    if chamfer and config.chamfer_weight > 0:
        losses["chamfer"] = _chamfer(T_ab, points[b, :count], points[a, :count], frames.K[a], frames.K[b], frames)
    count = config.photometric_points
    if config.photometric_weight > 0:
        losses["photometric"] = _photometric(T_ab, points[b, :count], frames.colours[b, :count], frames, a)
    return losses


def _chamfer(T_ab: Tensor, points_b: Tensor, points_a: Tensor, K_a: Tensor, K_b: Tensor, frames: _Frames) -> Tensor:
    """Chamfer loss of frame b's points (B, P, 3) moved into frame a against frame a's (B, P, 3), in units."""
    height, width = frames.rgb.shape[-2:]
    source = transform_points(T_ab, points_b)
    source_pixels, source_z = project_points(source, K_a)
    target_pixels, target_z = project_points(transform_points(torch.linalg.inv(T_ab), points_a), K_b)
    source_in = inside_image(source_pixels, source_z, width, height)
    target_in = inside_image(target_pixels, target_z, width, height)
    return chamfer_loss(source / frames.unit, points_a / frames.unit, source_in, target_in)


def _photometric(T_ab: Tensor, points_b: Tensor, colours_b: Tensor, frames: _Frames, a: Tensor) -> Tensor:
    """Mean absolute RGB difference of frame b's points (B, M, 3) with colours (B, M, 3) warped into frames a."""
    height, width = frames.rgb.shape[-2:]
    pixels, z = project_points(transform_points(T_ab, points_b), frames.K[a])
    seen = inside_image(pixels, z, width, height)
    seen = seen & (sample_image(frames.tissue[a], pixels, mode="nearest")[..., 0] > 0.5)
    difference = (sample_image(frames.rgb[a], pixels) - colours_b).abs().mean(dim=-1)
    return _masked_mean(difference, seen)


def align_priors(
    keyframes: Sequence[TrainingKeyframe],
    config: PoseFreeConfig,
    *,
    initial_poses: Float | None = None,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> PriorAlignment:
    """Stage 1 (module docstring): poses, scales and shifts of ``keyframes`` (in stream order).

    ``initial_poses`` (N, 4, 4) (e.g. odometry) start the relative poses; None starts from identity.
    ``progress(iteration, losses)`` is called after every iteration.
    """
    if len(keyframes) < 2:
        raise TrainingError(f"pose-free alignment needs at least 2 keyframes, got {len(keyframes)}")
    count = len(keyframes)
    if initial_poses is None:
        initial = np.repeat(np.eye(4)[None], count, axis=0)
    else:
        initial = np.asarray(initial_poses, dtype=np.float64)
        if initial.shape != (count, 4, 4):
            raise TrainingError(f"initial_poses must be ({count}, 4, 4) like the keyframes, got {initial.shape}")
    frames = _frames(keyframes, config)
    model = PriorPoses(initial, unit=frames.unit)
    if not config.learn_depth_scale:
        model.log_scale.requires_grad_(False)
        model.shift.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    decay = 0.1 ** (1.0 / max(config.iterations, 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=decay)
    a, b = pair_indices(count, min(config.max_pair_offset, count - 1))
    weights = {
        "chamfer": config.chamfer_weight, "photometric": config.photometric_weight, "scale": config.scale_regularisation
    }
    losses: list[float] = []
    for iteration in range(config.iterations):
        terms = alignment_losses(model, frames, a, b, config, chamfer=iteration < config.chamfer_iterations)
        total = sum((weights[name] * value for name, value in terms.items()), start=torch.zeros(()))
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        scheduler.step()
        losses.append(float(total.detach()))
        if progress is not None:
            progress(iteration, {name: float(value.detach()) for name, value in terms.items()})
    with torch.no_grad():
        return PriorAlignment(
            poses=_orthonormal(model.poses().double().numpy()),
            scales=model.scales().double().numpy(),
            shifts_m=model.shifts().double().numpy(),
            losses=losses,
        )


def _orthonormal(poses: Float) -> Float:
    """Poses with their rotations re-orthonormalised (float32 chaining leaves ~1e-6 drift)."""
    out = poses.copy()
    U, _, Vt = np.linalg.svd(out[:, :3, :3])
    out[:, :3, :3] = U @ Vt
    out[:, 3] = [0.0, 0.0, 0.0, 1.0]
    return out
