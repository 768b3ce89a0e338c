"""View synthesis: back-project a target depth map, move it into a source camera and sample the source there.

Poses are 4x4 rigid transforms; ``T_source_target`` maps target-camera coordinates into the source
camera (for the rectified rig, left target and right source, it is a translation by (-baseline, 0, 0)).
Sampling is bilinear (``torch.nn.functional.grid_sample``, pixel centres at integer coordinates);
pixels that land outside the source image or behind the source camera are marked invalid.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional

from stereo_nerf_core.geometry.lie import backproject_pixels


def pixel_grid(height: int, width: int, *, device: torch.device | str = "cpu") -> Tensor:
    """Homogeneous pixel coordinates (3, H * W): rows u, v, 1 in row-major pixel order."""
    v, u = torch.meshgrid(
        torch.arange(height, dtype=torch.float32, device=device),
        torch.arange(width, dtype=torch.float32, device=device),
        indexing="ij",
    )
    return torch.stack([u.reshape(-1), v.reshape(-1), torch.ones_like(u).reshape(-1)])


def backproject(depth: Tensor, K: Tensor) -> Tensor:
    """Camera points (B, 3, H * W) of depth (B, 1, H, W) in metres with intrinsics K (B, 3, 3) (zero skew)."""
    batch, _, height, width = depth.shape
    pixels = pixel_grid(height, width, device=depth.device)[:2].T.expand(batch, -1, -1)
    return backproject_pixels(pixels, depth.reshape(batch, height * width), K).transpose(1, 2)


def project_to_grid(
    points: Tensor, K: Tensor, T_source_target: Tensor, height: int, width: int
) -> tuple[Tensor, Tensor]:
    """Target points (B, 3, N = H * W) seen by the source camera.

    Returns the sampling grid (B, H, W, 2) in grid_sample's normalised coordinates (align_corners=True)
    and the mask (B, 1, H, W) of points in front of the source camera and inside its image.
    """
    batch = points.shape[0]
    moved = T_source_target[:, :3, :3] @ points + T_source_target[:, :3, 3:]
    pixels = K @ moved
    z = pixels[:, 2:3]
    in_front = z > 1e-6
    uv = pixels[:, :2] / torch.where(in_front, z, torch.ones_like(z))
    u, v = uv[:, 0], uv[:, 1]
    inside = in_front[:, 0] & (u >= 0) & (u <= width - 1) & (v >= 0) & (v <= height - 1)
    grid = torch.stack([2.0 * u / max(width - 1, 1) - 1.0, 2.0 * v / max(height - 1, 1) - 1.0], dim=-1)
    return grid.reshape(batch, height, width, 2), inside.reshape(batch, 1, height, width)


def sample(source: Tensor, grid: Tensor) -> Tensor:
    """Bilinear samples (B, C, H, W) of ``source`` (B, C, Hs, Ws) at ``grid`` (B, H, W, 2); zeros outside."""
    return functional.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def warp_through_depth(
    source: Tensor,
    depth: Tensor,
    K_target: Tensor,
    T_source_target: Tensor,
    *,
    K_source: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The source image (B, C, H, W) resampled onto the target grid through the target's depth (B, 1, H, W).

    ``K_target`` and ``K_source`` (default: the same) are (B, 3, 3); ``T_source_target`` is (B, 4, 4).
    Returns the warped image (B, C, H, W) and its validity mask (B, 1, H, W).
    """
    height, width = depth.shape[-2:]
    points = backproject(depth, K_target)
    grid, valid = project_to_grid(points, K_target if K_source is None else K_source, T_source_target, height, width)
    return sample(source, grid), valid


def rig_transform(baseline_m: Tensor) -> Tensor:
    """T_right_left (B, 4, 4) of rectified rigs with baselines (B,) in metres: x_right = x_left - (B, 0, 0)."""
    transform = torch.eye(4, dtype=baseline_m.dtype, device=baseline_m.device).repeat(baseline_m.shape[0], 1, 1)
    transform[:, 0, 3] = -baseline_m
    return transform


def right_intrinsics(K_left: Tensor, disparity_offset_px: Tensor) -> Tensor:
    """Rectified right intrinsics (B, 3, 3): the left ones with cx moved by ``-disparity_offset_px`` (B,)."""
    K = K_left.clone()
    K[:, 0, 2] = K[:, 0, 2] - disparity_offset_px
    return K


def warp_right_to_left(
    right: Tensor, depth: Tensor, K_left: Tensor, baseline_m: Tensor, disparity_offset_px: Tensor
) -> tuple[Tensor, Tensor]:
    """The rectified right image (B, C, H, W) warped onto the left grid through left depth (B, 1, H, W)."""
    return warp_through_depth(
        right,
        depth,
        K_left,
        rig_transform(baseline_m),
        K_source=right_intrinsics(K_left, disparity_offset_px),
    )
