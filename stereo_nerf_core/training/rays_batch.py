"""Ray batches for training: which keyframes, cameras and pixels a step looks at, and their targets.

Per ray: a keyframe (with probability ``recency_share`` one of the newest ``recency_window``,
otherwise any, uniformly), a camera (left, or with ``binocular`` and a right image the right one
half of the time) and a pixel (with probability ``mask_guide_sample_rate`` inside that camera's
tissue mask, otherwise anywhere). Rays outside the mask carry zero photometric and depth weight.
Left rays carry the keyframe's object mask (``foreground``) for the mask loss when it has one.
The right camera's prior is the left prior forward-warped by its disparity (same Z in a rectified
pair; the nearest surface wins), so right rays are depth-guided and depth-supervised too. With SSIM
enabled the batch ends with ``patches`` square patches (row-major) from left images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.render.rays import RayBundle
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe

LEFT, RIGHT = 0, 1


@dataclass(frozen=True)
class BatchOptions:
    """How a batch is drawn (the trainer fills it from its config)."""

    rays: int
    mask_guide_sample_rate: float
    recency_share: float
    recency_window: int
    binocular: bool
    patches: int = 0
    patch_px: int = 8

    @classmethod
    def of(cls, config: TrainerConfig) -> BatchOptions:
        """The options of a trainer config (SSIM patches only when ``ssim_weight`` > 0)."""
        return cls(
            rays=config.rays_per_batch,
            mask_guide_sample_rate=config.mask_guide_sample_rate,
            recency_share=config.recency_share,
            recency_window=config.recency_window,
            binocular=config.binocular,
            patches=config.ssim_patches if config.ssim_weight > 0 else 0,
            patch_px=config.ssim_patch_px,
        )


@dataclass(frozen=True)
class RayBatch:
    """Rays of one step (N of them) with their targets; tensors on one device."""

    slot: torch.Tensor
    """(N,) int64 position of the ray's keyframe in the snapshot it was drawn from."""
    camera: torch.Tensor
    """(N,) int64 0 = left, 1 = right."""
    pixels: torch.Tensor
    """(N, 2) float (u, v) pixel centres (integer = centre)."""
    rgb: torch.Tensor
    """(N, 3) float target colour in [0, 1]."""
    depth: torch.Tensor
    """(N,) float prior Z in metres (0 = none); also guides the renderer's sampling."""
    confidence: torch.Tensor
    """(N,) float prior confidence in [0, 1] (0 where the ray is outside the mask or has no prior)."""
    photometric_weight: torch.Tensor
    """(N,) float 1 inside the tissue mask, 0 outside."""
    foreground: torch.Tensor
    """(N,) float object mask of the ray's pixel: 1 object, 0 background, -1 unknown (no mask)."""
    patches: int = 0
    """Number of trailing SSIM patches."""
    patch_px: int = 8
    """Side of a patch in pixels."""

    def to(self, device: torch.device) -> RayBatch:
        """The batch on ``device``."""
        moved = {name: getattr(self, name).to(device) for name in _TENSORS}
        return RayBatch(**moved, patches=self.patches, patch_px=self.patch_px)

    def __len__(self) -> int:
        return int(self.slot.shape[0])


_TENSORS = ("slot", "camera", "pixels", "rgb", "depth", "confidence", "photometric_weight", "foreground")


@dataclass(frozen=True)
class _CameraTables:
    rgb: NDArray[np.uint8]
    depth: NDArray[np.float32]
    confidence: NDArray[np.float32]
    valid: NDArray[np.bool_]
    valid_flat: NDArray[np.int64]
    foreground: NDArray[np.float32] | None = None


def warp_prior_to_right(keyframe: TrainingKeyframe) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(depth, confidence) of the left prior (tissue pixels only) forward-warped into the right image.

    A rectified pair shares K and Z: a left pixel (u, v) at depth Z appears at (u - fx B / Z, v) in
    the right image. Holes stay 0; where several left pixels land on one right pixel the nearest wins.
    """
    if keyframe.baseline_m is None:
        raise TrainingError(f"keyframe {keyframe.index} has no baseline_m")
    depth = np.zeros_like(keyframe.depth)
    confidence = np.zeros_like(keyframe.confidence)
    rows, columns = np.nonzero((keyframe.depth > 0) & keyframe.valid)
    if rows.size == 0:
        return depth, confidence
    z = keyframe.depth[rows, columns]
    target = np.rint(columns - keyframe.K[0, 0] * keyframe.baseline_m / z).astype(np.int64)
    inside = (target >= 0) & (target < keyframe.width)
    order = np.argsort(-z[inside], kind="stable")  # farthest first: the nearest is written last and wins
    r, c, z_in = rows[inside][order], target[inside][order], z[inside][order]
    depth[r, c] = z_in
    confidence[r, c] = keyframe.confidence[rows[inside][order], columns[inside][order]]
    return depth, confidence


class RayBatchSampler:
    """Draws :class:`RayBatch` objects from a keyframe snapshot (caches per-keyframe tables)."""

    def __init__(self, options: BatchOptions, *, seed: int) -> None:
        if options.rays < options.patches * options.patch_px**2:
            raise TrainingError(f"{options.patches} patches of {options.patch_px} px do not fit in {options.rays} rays")
        self.options = options
        self.rng = np.random.default_rng(seed)
        self._cache: dict[int, tuple[TrainingKeyframe, list[_CameraTables]]] = {}

    def sample(self, keyframes: Sequence[TrainingKeyframe]) -> RayBatch:
        """One batch from ``keyframes`` (oldest first), on the CPU."""
        if not keyframes:
            raise TrainingError("no keyframes to sample rays from: add keyframes before training")
        tables = [self._tables(keyframe) for keyframe in keyframes]
        self._cache = {kf.index: (kf, t) for kf, t in zip(keyframes, tables, strict=True)}
        options = self.options
        single = options.rays - options.patches * options.patch_px**2
        slot = self._slots(len(keyframes), single)
        camera = np.zeros(single, np.int64)
        if options.binocular:
            has_right = np.array([len(t) > 1 for t in tables])
            camera = (has_right[slot] & (self.rng.random(single) < 0.5)).astype(np.int64)
        flat = np.zeros(single, np.int64)
        inside = self.rng.random(single) < options.mask_guide_sample_rate
        for s, c in {(int(s), int(c)) for s, c in zip(slot, camera, strict=True)}:
            chosen = np.nonzero((slot == s) & (camera == c))[0]
            table = tables[s][c]
            size = table.valid.size
            drawn = self.rng.integers(size, size=chosen.size)
            if table.valid_flat.size:
                guided = table.valid_flat[self.rng.integers(table.valid_flat.size, size=chosen.size)]
                drawn = np.where(inside[chosen], guided, drawn)
            flat[chosen] = drawn
        parts = [(slot, camera, flat)]
        if options.patches:
            parts.append(self._patches(keyframes, tables))
        slot = np.concatenate([p[0] for p in parts])
        camera = np.concatenate([p[1] for p in parts])
        flat = np.concatenate([p[2] for p in parts])
        return self._gather(keyframes, tables, slot, camera, flat)

    def _slots(self, count: int, n: int) -> NDArray[np.int64]:
        window = min(self.options.recency_window, count)
        recent = self.rng.random(n) < self.options.recency_share
        return np.where(recent, count - window + self.rng.integers(window, size=n), self.rng.integers(count, size=n))

    def _patches(
        self, keyframes: Sequence[TrainingKeyframe], tables: list[list[_CameraTables]]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        px = self.options.patch_px
        slots = self._slots(len(keyframes), self.options.patches)
        flats = []
        for s in slots:
            keyframe, table = keyframes[int(s)], tables[int(s)][LEFT]
            if keyframe.height < px or keyframe.width < px:
                raise TrainingError(f"keyframe {keyframe.index} is smaller than an SSIM patch ({px} px)")
            if table.valid_flat.size and self.rng.random() < self.options.mask_guide_sample_rate:
                centre = int(table.valid_flat[self.rng.integers(table.valid_flat.size)])
                v, u = divmod(centre, keyframe.width)
            else:
                v, u = int(self.rng.integers(keyframe.height)), int(self.rng.integers(keyframe.width))
            top = min(max(v - px // 2, 0), keyframe.height - px)
            left = min(max(u - px // 2, 0), keyframe.width - px)
            rows, columns = top + np.arange(px)[:, None], left + np.arange(px)[None, :]
            flats.append((rows * keyframe.width + columns).ravel())
        flat = np.concatenate(flats).astype(np.int64)
        return np.repeat(slots, px * px), np.zeros(flat.size, np.int64), flat

    def _gather(
        self,
        keyframes: Sequence[TrainingKeyframe],
        tables: list[list[_CameraTables]],
        slot: NDArray[np.int64],
        camera: NDArray[np.int64],
        flat: NDArray[np.int64],
    ) -> RayBatch:
        n = slot.size
        rgb = np.zeros((n, 3), np.float32)
        depth, confidence, weight = (np.zeros(n, np.float32) for _ in range(3))
        foreground = np.full(n, -1.0, np.float32)
        pixels = np.zeros((n, 2), np.float32)
        for s, c in {(int(s), int(c)) for s, c in zip(slot, camera, strict=True)}:
            chosen = np.nonzero((slot == s) & (camera == c))[0]
            table, width = tables[s][c], keyframes[s].width
            index = flat[chosen]
            valid = table.valid.reshape(-1)[index]
            rgb[chosen] = table.rgb.reshape(-1, 3)[index] / np.float32(255.0)
            depth[chosen] = np.where(valid, table.depth.reshape(-1)[index], 0.0)
            confidence[chosen] = np.where(valid, table.confidence.reshape(-1)[index], 0.0)
            weight[chosen] = valid
            if table.foreground is not None:
                foreground[chosen] = table.foreground.reshape(-1)[index]
            pixels[chosen, 0] = index % width
            pixels[chosen, 1] = index // width
        return RayBatch(
            slot=torch.from_numpy(slot.astype(np.int64)),
            camera=torch.from_numpy(camera.astype(np.int64)),
            pixels=torch.from_numpy(pixels),
            rgb=torch.from_numpy(rgb),
            depth=torch.from_numpy(depth),
            confidence=torch.from_numpy(confidence),
            photometric_weight=torch.from_numpy(weight),
            foreground=torch.from_numpy(foreground),
            patches=self.options.patches,
            patch_px=self.options.patch_px,
        )

    def _tables(self, keyframe: TrainingKeyframe) -> list[_CameraTables]:
        cached = self._cache.get(keyframe.index)
        if cached is not None and cached[0] is keyframe:
            return cached[1]
        tables = [
            _camera_tables(keyframe.rgb, keyframe.depth, keyframe.confidence, keyframe.valid, keyframe.foreground)
        ]
        if self.options.binocular and keyframe.right_rgb is not None and keyframe.right_valid is not None:
            depth, confidence = warp_prior_to_right(keyframe)
            tables.append(_camera_tables(keyframe.right_rgb, depth, confidence, keyframe.right_valid))
        return tables


def _camera_tables(
    rgb: NDArray[np.uint8],
    depth: NDArray[np.float32],
    confidence: NDArray[np.float32],
    valid: NDArray[np.bool_],
    foreground: NDArray[np.bool_] | None = None,
) -> _CameraTables:
    mask = None if foreground is None else foreground.astype(np.float32)
    return _CameraTables(rgb, depth, confidence, valid, np.flatnonzero(valid).astype(np.int64), mask)


def batch_rays(
    batch: RayBatch, K: torch.Tensor, T_world_left: torch.Tensor, baseline_m: torch.Tensor
) -> RayBundle:
    """World rays of a batch: per-slot intrinsics K (S, 3, 3), left poses (S, 4, 4) and baselines (S,).

    Differentiable w.r.t. the poses (pose refinement). The right camera of slot s sits at
    ``T_world_left[s] @ translation(baseline_m[s], 0, 0)`` and shares the left intrinsics.
    """
    T = T_world_left[batch.slot]
    rotation, origin = T[:, :3, :3], T[:, :3, 3]
    right = (batch.camera == RIGHT).to(T.dtype)
    origin = origin + rotation[:, :, 0] * (baseline_m[batch.slot] * right)[:, None]
    Kb = K[batch.slot]
    y = (batch.pixels[:, 1].to(T.dtype) - Kb[:, 1, 2]) / Kb[:, 1, 1]
    x = (batch.pixels[:, 0].to(T.dtype) - Kb[:, 0, 2] - Kb[:, 0, 1] * y) / Kb[:, 0, 0]
    camera_dirs = torch.stack([x, y, torch.ones_like(x)], dim=1)
    length = torch.linalg.norm(camera_dirs, dim=1)
    directions = torch.einsum("nij,nj->ni", rotation, camera_dirs / length[:, None])
    return RayBundle(origins=origin, directions=directions, z_per_distance=1.0 / length)


def keyframe_rays(
    batch: RayBatch, keyframes: Sequence[TrainingKeyframe], T_world_left: torch.Tensor, times_s: torch.Tensor | None
) -> tuple[RayBundle, torch.Tensor]:
    """(:func:`batch_rays` of ``keyframes`` with their poses (S, 4, 4), each ray carrying its keyframe's time when
    ``times_s`` (S,) is given; the keyframes' intrinsics (S, 3, 3) on the poses' device)."""
    device = T_world_left.device
    K = torch.tensor(np.stack([k.K for k in keyframes]), dtype=torch.float32, device=device)
    baselines = torch.tensor([k.baseline_m or 0.0 for k in keyframes], device=device)
    rays = batch_rays(batch, K, T_world_left, baselines)
    if times_s is not None:
        rays.times = times_s[batch.slot]
    return rays, K
