"""NoPe-NeRF's photometric surface loss: a ray's rendered surface, seen from a neighbouring keyframe, has its colour.

For every left-camera tissue ray of keyframe ``s`` (pixel ``p``, rendered depth ``Z``), the surface
point ``X = T_world[s] @ (Z * K_s^-1 p)`` is projected into the neighbouring keyframe ``s'`` (the
next one in the snapshot, the previous one for the last) and that keyframe's colour is sampled
bilinearly there. The loss is the mean L1 difference to the ray's own target colour over rays whose
projection lands inside the neighbour. Gradients reach the rendered depth (the field) and both
poses (pose refinement), so it ties consecutive poses together through the geometry.
"""

from __future__ import annotations

import torch
from torch import Tensor

from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.rays_batch import LEFT, RayBatch


class KeyframeImages:
    """The left colours the loss samples, on the device, kept per keyframe object while it is buffered."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._cache: dict[int, tuple[TrainingKeyframe, Tensor]] = {}

    def __call__(self, keyframes: tuple[TrainingKeyframe, ...]) -> Tensor:
        """(S, 3, H, W) left colours in [0, 1] of ``keyframes``; keyframes no longer given are forgotten."""
        images = []
        for keyframe in keyframes:
            cached = self._cache.get(keyframe.index)
            if cached is None or cached[0] is not keyframe:
                tensor = torch.from_numpy(keyframe.rgb).to(self.device).permute(2, 0, 1).float() / 255.0
                cached = self._cache[keyframe.index] = (keyframe, tensor)
            images.append(cached[1])
        for index in set(self._cache) - {k.index for k in keyframes}:
            del self._cache[index]
        return torch.stack(images)


def neighbour_slots(count: int, device: torch.device) -> Tensor:
    """(count,) the slot each slot is compared with: the next one, the previous one for the last (itself if alone)."""
    slots = torch.arange(count, device=device) + 1
    if count > 1:
        slots[-1] = count - 2
    else:
        slots[-1] = 0
    return slots


def surface_photometric_loss(batch: RayBatch, depth: Tensor, poses: Tensor, K: Tensor, images: Tensor) -> Tensor:
    """Mean L1 colour difference (see the module docstring); 0 when no ray qualifies.

    ``depth`` (N,) rendered Z in metres of the batch's rays, ``poses`` (S, 4, 4) ``T_world_camera``
    of the snapshot's keyframes, ``K`` (S, 3, 3), ``images`` (S, 3, H, W) their left colours in [0, 1].
    """
    s, _, height, width = images.shape
    if poses.shape != (s, 4, 4) or K.shape != (s, 3, 3) or depth.shape != (len(batch),):
        raise TrainingError(
            f"need poses (S, 4, 4), K (S, 3, 3) with S = {s} and depth (N,) = ({len(batch)},), got "
            f"{tuple(poses.shape)}, {tuple(K.shape)}, {tuple(depth.shape)}"
        )
    use = (batch.camera == LEFT) & (batch.photometric_weight > 0) & (depth > 0)
    if s < 2 or not bool(use.any()):
        return depth.sum() * 0.0
    slot = batch.slot[use]
    other = neighbour_slots(s, depth.device)[slot]
    pixels, z = batch.pixels[use].to(poses.dtype), depth[use].to(poses.dtype)
    Ks, Ko = K[slot].to(poses.dtype), K[other].to(poses.dtype)
    y = (pixels[:, 1] - Ks[:, 1, 2]) / Ks[:, 1, 1]
    x = (pixels[:, 0] - Ks[:, 0, 2]) / Ks[:, 0, 0]
    camera_points = torch.stack([x * z, y * z, z], dim=1)
    T_other_self = torch.linalg.solve(poses[other], poses[slot])
    seen = torch.einsum("nij,nj->ni", T_other_self[:, :3, :3], camera_points) + T_other_self[:, :3, 3]
    u = Ko[:, 0, 0] * seen[:, 0] / seen[:, 2] + Ko[:, 0, 2]
    v = Ko[:, 1, 1] * seen[:, 1] / seen[:, 2] + Ko[:, 1, 2]
    inside = (seen[:, 2] > 1e-6) & (u >= 0) & (u <= width - 1) & (v >= 0) & (v <= height - 1)
    if not bool(inside.any()):
        return depth.sum() * 0.0
    sampled = bilinear_colours(images, other, u, v)
    difference = (sampled - batch.rgb[use].float()).abs().mean(dim=1)
    return difference[inside].mean()


def bilinear_colours(images: Tensor, slot: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """(M, 3) colours of ``images`` (S, 3, H, W) bilinearly at pixel (u, v) (M,) of image ``slot`` (M,).

    Positions are clamped into the image; differentiable w.r.t. ``u`` and ``v``.
    """
    s, _, height, width = images.shape
    flat = images.float().permute(0, 2, 3, 1).reshape(s * height * width, 3)
    u = u.float().clamp(0, width - 1)
    v = v.float().clamp(0, height - 1)
    u0, v0 = u.detach().floor().clamp(max=width - 2), v.detach().floor().clamp(max=height - 2)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    base = slot * (height * width) + v0.long() * width + u0.long()
    top = flat[base] * (1 - fu) + flat[base + 1] * fu
    bottom = flat[base + width] * (1 - fu) + flat[base + width + 1] * fu
    return top * (1 - fv) + bottom * fv
