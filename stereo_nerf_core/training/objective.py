"""The training objective of one batch: the weighted loss terms and the batch PSNR."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.render.renderer import RenderOutput
from stereo_nerf_core.training import losses
from stereo_nerf_core.training.rays_batch import RayBatch


@dataclass(frozen=True)
class Objective:
    """Weighted loss terms (scalar tensors) of one batch and its PSNR."""

    terms: dict[str, torch.Tensor]
    psnr: torch.Tensor
    """PSNR (dB) of the batch's tissue rays (no gradient)."""

    @property
    def total(self) -> torch.Tensor:
        """Sum of the terms."""
        return torch.stack(list(self.terms.values())).sum()


def objective(
    out: RenderOutput,
    batch: RayBatch,
    config: TrainerConfig,
    *,
    pose_regulariser: torch.Tensor | None,
    depth_range: float,
    surface_photometric: torch.Tensor | None = None,
    model_terms: dict[str, torch.Tensor] | None = None,
) -> Objective:
    """The loss terms of ``config`` (see :mod:`~stereo_nerf_core.training.losses`) for rendered ``out``.

    ``depth_range`` (far - near) is the distance unit of the distortion loss; ``surface_photometric`` is the
    unweighted photometric surface loss when the trainer computed it; ``model_terms`` are the model's own
    weighted terms (e.g. NeuS's eikonal loss).
    """
    rgb, weight = out.rgb.float(), batch.photometric_weight
    zero = rgb.new_zeros(())
    ssim = losses.patch_ssim_loss(rgb, batch.rgb, patches=batch.patches, patch_px=batch.patch_px)
    terms = {
        "photometric": losses.photometric_loss(
            rgb, batch.rgb, weight, kind=config.photometric_loss, delta=config.huber_delta
        ),
        "depth": config.depth_loss_weight
        * losses.depth_loss(out.depth.float(), batch.depth, batch.confidence, delta=config.depth_loss_delta),
        "ssim": config.ssim_weight * ssim,
        "opacity": config.opacity_weight * losses.opacity_loss(out.opacity.float(), weight),
        "mask": config.mask_loss_weight * losses.mask_loss(out.opacity, batch.foreground)
        if config.mask_loss_weight > 0
        else zero,
        "distortion": config.distortion_weight
        * losses.distortion_loss(out.weights, out.t, out.deltas, scale=depth_range)
        if config.distortion_weight > 0 and out.deltas is not None
        else zero,
        "surface": config.surface_photometric_weight * surface_photometric.to(zero)
        if surface_photometric is not None
        else zero,
        "pose": config.pose_regularisation * pose_regulariser.to(zero) if pose_regulariser is not None else zero,
    }
    own = model_terms or {}
    terms["eikonal"] = own.get("eikonal", zero).to(zero)
    terms.update({name: value.to(zero) for name, value in own.items()})
    with torch.no_grad():
        mse = (((rgb - batch.rgb) ** 2).mean(dim=1) * weight).sum() / weight.sum().clamp_min(1.0)
        psnr = -10.0 * torch.log10(mse.clamp_min(1e-10))
    return Objective(terms, psnr)
