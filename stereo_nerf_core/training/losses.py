"""Training losses; each returns a scalar tensor and is 0 (not NaN) when nothing carries weight.

* Photometric: L1 or Huber (smooth L1) on RGB in [0, 1], averaged over the rays' photometric
  weights (rays outside the tissue mask weigh 0).
* Depth: Huber on the *relative* error ``(Z_rendered - Z_prior) / Z_prior`` weighted by the prior's
  confidence and averaged over the rays that have a prior. Relative, so one weight serves scenes in
  metres (endoscope, tissue at 5-15 cm) and in unit-sphere units (DTU), and so it matches abs_rel,
  the metric the product is scored on; past ``delta`` it grows linearly so wrong prior pixels
  (outliers) pull less.
* Eikonal (SDF): ``mean((|grad f| - 1)^2)`` over the renderer's sample gradients.
* Patch SSIM: ``1 - SSIM`` (kornia, 3x3 window) on square patches of rendered and target colour.
* Opacity: ``(1 - opacity)^2`` on tissue rays (their surface is inside the scene, so they are opaque).
* Mask (NeuS): binary cross-entropy of the opacity against the object mask, on rays with a known mask.
* Distortion (mip-NeRF 360): ``sum_ij w_i w_j |m_i - m_j| + 1/3 sum_i w_i^2 delta_i`` over each ray's
  intervals (centres ``m``, lengths ``delta``, in units of the scene's depth range): it gathers each
  ray's weight into one compact interval, so surfaces are thin and easy for coarse samples to find.
"""

from __future__ import annotations

import kornia
import torch
from torch.nn import functional

from stereo_nerf_core.training.errors import TrainingError


def photometric_loss(
    rgb: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *, kind: str = "huber", delta: float = 0.05
) -> torch.Tensor:
    """Weighted mean colour loss of (N, 3) colours with (N,) weights."""
    if kind == "l1":
        per_ray = (rgb - target).abs().mean(dim=1)
    elif kind == "huber":
        per_ray = functional.smooth_l1_loss(rgb, target, reduction="none", beta=delta).mean(dim=1)
    else:
        raise TrainingError(f"unknown photometric loss {kind!r}: use 'l1' or 'huber'")
    return (per_ray * weight).sum() / weight.sum().clamp_min(1.0)


def depth_loss(
    depth: torch.Tensor, prior: torch.Tensor, confidence: torch.Tensor, *, delta: float = 0.02
) -> torch.Tensor:
    """Confidence-weighted Huber loss of the relative depth error over rays with a prior (Z > 0)."""
    has_prior = (prior > 0) & (confidence > 0)
    relative = (depth - prior) / torch.where(has_prior, prior, torch.ones_like(prior))
    per_ray = functional.smooth_l1_loss(relative, torch.zeros_like(relative), reduction="none", beta=delta)
    weight = torch.where(has_prior, confidence, torch.zeros_like(confidence))
    return (per_ray * weight).sum() / has_prior.sum().clamp_min(1)


def patch_ssim_loss(rgb: torch.Tensor, target: torch.Tensor, *, patches: int, patch_px: int) -> torch.Tensor:
    """``1 - SSIM`` of the last ``patches * patch_px^2`` rays (row-major square patches) of (N, 3) colours."""
    count = patches * patch_px * patch_px
    if patches == 0:
        return rgb.new_zeros(())
    if rgb.shape[0] < count:
        raise TrainingError(f"the batch has {rgb.shape[0]} rays, fewer than {patches} patches of {patch_px} px")

    def images(colours: torch.Tensor) -> torch.Tensor:
        return colours[-count:].reshape(patches, patch_px, patch_px, 3).permute(0, 3, 1, 2)

    similarity = kornia.metrics.ssim(images(rgb).float(), images(target).float(), window_size=3)
    return 1.0 - similarity.mean()


def opacity_loss(opacity: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted mean of ``(1 - opacity)^2`` over (N,) rays."""
    return (((1.0 - opacity) ** 2) * weight).sum() / weight.sum().clamp_min(1.0)


def distortion_loss(weights: torch.Tensor, t_mid: torch.Tensor, deltas: torch.Tensor, *, scale: float) -> torch.Tensor:
    """Mean over rays of the mip-NeRF 360 distortion of weights (N, S) at interval centres / lengths (N, S).

    Distances are divided by ``scale`` (the scene's depth range). O(S) per ray with cumulative sums.
    """
    w = weights.float()
    m = t_mid.float() / scale
    d = deltas.float() / scale
    w_before = torch.cumsum(w, dim=1) - w
    wm_before = torch.cumsum(w * m, dim=1) - w * m
    pairwise = 2.0 * (w * (m * w_before - wm_before)).sum(dim=1)
    return (pairwise + (w * w * d).sum(dim=1) / 3.0).mean()


def mask_loss(opacity: torch.Tensor, foreground: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of opacities (N,) against ``foreground`` (N,) (1 / 0; -1 = unknown, ignored)."""
    known = foreground >= 0
    if not bool(known.any()):
        return opacity.sum() * 0.0
    clamped = opacity.float()[known].clamp(1e-4, 1.0 - 1e-4)
    return torch.nn.functional.binary_cross_entropy(clamped, foreground[known].float())
