"""Losses of self-supervised depth (Monodepth2): reprojection error, minimum over sources, auto-mask, smoothness.

Images are (B, C, H, W) in [0, 1]; error maps are (B, 1, H, W). The reprojection error is
``alpha * (1 - SSIM) / 2 + (1 - alpha) * |a - b|`` averaged over channels, SSIM from kornia
(Gaussian window, sigma 1.5, reflect padding, C1 = 0.01^2, C2 = 0.03^2).
"""

from __future__ import annotations

from collections.abc import Sequence

import kornia
import torch
from torch import Tensor

from stereo_nerf_core.frontend.errors import FrontendError

INVALID_ERROR = 1e3
"""Error given to pixels a source cannot explain (warped outside its image): never the minimum when another can."""


def reprojection_error(predicted: Tensor, target: Tensor, *, alpha: float = 0.85, ssim_window: int = 3) -> Tensor:
    """Per-pixel ``alpha * (1 - SSIM) / 2 + (1 - alpha) * L1`` (B, 1, H, W) of two images (B, C, H, W)."""
    if predicted.shape != target.shape:
        raise FrontendError(
            f"images must have the same (B, C, H, W) shape, got {tuple(predicted.shape)} and {tuple(target.shape)}"
        )
    l1 = (predicted - target).abs().mean(dim=1, keepdim=True)
    ssim = kornia.metrics.ssim(predicted, target, ssim_window).mean(dim=1, keepdim=True)
    return alpha * (1.0 - ssim).clamp(0.0, 2.0) / 2.0 + (1.0 - alpha) * l1


def masked_error(error: Tensor, valid: Tensor) -> Tensor:
    """``error`` (B, 1, H, W) with :data:`INVALID_ERROR` where ``valid`` (B, 1, H, W) is False."""
    return torch.where(valid, error, torch.full_like(error, INVALID_ERROR))


def minimum_reprojection(errors: Sequence[Tensor]) -> Tensor:
    """Per-pixel minimum (B, 1, H, W) over the sources' error maps (each (B, 1, H, W)): occlusions drop out."""
    if not errors:
        raise FrontendError("minimum_reprojection needs at least one source error map")
    return torch.stack(list(errors), dim=0).min(dim=0).values


def automask(warped_minimum: Tensor, identity_minimum: Tensor) -> Tensor:
    """Monodepth2 auto-mask (B, 1, H, W): True where warping explains the target better than an unwarped source.

    Pixels that an unwarped source already matches (static camera, objects moving with the camera, flat
    texture) carry no depth information and are dropped.
    """
    return warped_minimum < identity_minimum


def edge_aware_smoothness(disparity: Tensor, image: Tensor) -> Tensor:
    """Mean of |d_x d*| exp(-|d_x I|) + |d_y d*| exp(-|d_y I|), d* = disparity / its per-image mean.

    ``disparity`` is (B, 1, H, W), ``image`` (B, C, H, W) on the same grid; image gradients are averaged
    over channels. Returns a scalar.
    """
    normalised = disparity / (disparity.mean(dim=(2, 3), keepdim=True) + 1e-7)
    grad_x = (normalised[:, :, :, :-1] - normalised[:, :, :, 1:]).abs()
    grad_y = (normalised[:, :, :-1, :] - normalised[:, :, 1:, :]).abs()
    image_x = (image[:, :, :, :-1] - image[:, :, :, 1:]).abs().mean(dim=1, keepdim=True)
    image_y = (image[:, :, :-1, :] - image[:, :, 1:, :]).abs().mean(dim=1, keepdim=True)
    return (grad_x * torch.exp(-image_x)).mean() + (grad_y * torch.exp(-image_y)).mean()


def identity_error(
    target: Tensor, sources: Sequence[Tensor], present: Sequence[Tensor], *, alpha: float = 0.85
) -> Tensor:
    """Minimum error (B, 1, H, W) of the unwarped sources (each (B, C, H, W)) against ``target``.

    ``present`` holds per source a (B,) or broadcastable bool tensor: targets lacking that source get
    :data:`INVALID_ERROR` from it. This is the reference of the auto-mask; it does not depend on depth.
    """
    if len(sources) != len(present) or not sources:
        raise FrontendError(f"need one presence flag per source, got {len(sources)} sources and {len(present)}")
    errors = []
    for source, flag in zip(sources, present, strict=True):
        mask = flag.reshape(-1, 1, 1, 1).to(torch.bool)
        errors.append(masked_error(reprojection_error(source, target, alpha=alpha), mask))
    return minimum_reprojection(errors)


def view_synthesis_loss(
    target: Tensor,
    warped: Sequence[tuple[Tensor, Tensor]],
    *,
    alpha: float = 0.85,
    identity: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Minimum reprojection loss of ``target`` (B, C, H, W) over the warped sources (Monodepth2).

    ``warped`` holds per source the warped image (B, C, H, W) and its validity (B, 1, H, W). The per-pixel
    loss is the minimum warped error; with the auto-mask (``identity``: :func:`identity_error` of the same
    sources unwarped) it is the minimum of that and the identity error, so pixels an unwarped source explains
    better add their constant identity error and no gradient. The loss is the mean over pixels that some
    warped source covers. Returns the scalar loss and the mask (B, 1, H, W) of covered pixels where a warped
    source gives the minimum.
    """
    if not warped:
        raise FrontendError("view_synthesis_loss needs at least one warped source")
    best = minimum_reprojection(
        [masked_error(reprojection_error(image, target, alpha=alpha), valid) for image, valid in warped]
    )
    covered = best < INVALID_ERROR
    keep = covered
    if identity is not None:
        keep = covered & automask(best, identity)
        best = torch.minimum(best, identity.detach())
    weights = covered.to(best.dtype)
    return (best * weights).sum() / weights.sum().clamp_min(1.0), keep
