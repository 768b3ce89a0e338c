"""A small CPU-friendly depth network: a U-Net encoder-decoder with sigmoid disparities at three scales.

The sigmoid ``s`` of a pixel maps linearly onto the disparity range of the rig,
``d = fB / max_depth + (fB / min_depth - fB / max_depth) * s`` (px, ``fB`` = focal length x baseline in
px m), and metric depth is ``fB / d``: the network's output is an inverse depth bounded by the
configured depth range, metric through the known rig.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional

LEVELS = 4
"""Downsamplings of the encoder: input sides must be multiples of 2**LEVELS."""
SCALES = 3
"""Disparity outputs: full input resolution, 1/2 and 1/4."""
_MEAN, _STD = 0.45, 0.225


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, padding_mode="reflect"), nn.ELU()
    )


class DepthNet(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> sigmoid disparities [(B, 1, H, W), (B, 1, H/2, W/2), (B, 1, H/4, W/4)].

    H and W must be multiples of 16 (:data:`LEVELS`); :func:`pad_to_multiple` pads an image.
    """

    def __init__(self, *, base_channels: int = 16, initial_sigmoid: float = 0.5) -> None:
        super().__init__()
        widths = [base_channels * min(2**level, 8) for level in range(LEVELS + 1)]
        self.base_channels = base_channels
        self.stem = _conv(3, widths[0])
        self.down = nn.ModuleList(
            nn.Sequential(
                _conv(widths[level], widths[level + 1], stride=2), _conv(widths[level + 1], widths[level + 1])
            )
            for level in range(LEVELS)
        )
        self.up = nn.ModuleList(
            nn.Sequential(_conv(widths[level + 1] + widths[level], widths[level]), _conv(widths[level], widths[level]))
            for level in reversed(range(LEVELS))
        )
        heads = [nn.Conv2d(widths[scale], 1, 3, padding=1) for scale in range(SCALES)]
        with torch.no_grad():  # the untrained network starts near initial_sigmoid (0 < it < 1)
            for head in heads:
                if head.bias is not None:
                    head.bias.fill_(math.log(initial_sigmoid / (1.0 - initial_sigmoid)))
        self.heads = nn.ModuleList(heads)

    def forward(self, image: Tensor) -> list[Tensor]:
        """Sigmoid disparities, finest first (see the class docstring for shapes)."""
        features = [self.stem((image - _MEAN) / _STD)]
        for block in self.down:
            features.append(block(features[-1]))
        x = features[-1]
        outputs: dict[int, Tensor] = {}
        for offset, block in enumerate(self.up):
            level = LEVELS - 1 - offset
            x = functional.interpolate(x, scale_factor=2.0, mode="nearest")
            x = block(torch.cat([x, features[level]], dim=1))
            if level < SCALES:
                outputs[level] = torch.sigmoid(self.heads[level](x))
        return [outputs[scale] for scale in range(SCALES)]


def pad_to_multiple(image: Tensor, multiple: int = 2**LEVELS) -> Tensor:
    """(B, C, H, W) padded at the bottom and right by edge replication to sides that are multiples of ``multiple``."""
    height, width = image.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h == 0 and pad_w == 0:
        return image
    return functional.pad(image, (0, pad_w, 0, pad_h), mode="replicate")


def sigmoid_to_disparity(
    sigmoid: Tensor, *, focal_baseline: Tensor | float, min_depth_m: float, max_depth_m: float
) -> Tensor:
    """Disparity in px (same shape as ``sigmoid``) of the rig with ``focal_baseline`` = fx * baseline (px m).

    ``focal_baseline`` is a float or a tensor broadcasting against ``sigmoid`` (e.g. (B, 1, 1, 1)).
    """
    low, high = 1.0 / max_depth_m, 1.0 / min_depth_m
    return focal_baseline * (low + (high - low) * sigmoid)


def disparity_to_depth(disparity: Tensor, *, focal_baseline: Tensor | float) -> Tensor:
    """Metric depth ``fB / d`` (m) of a positive disparity map in px."""
    return focal_baseline / disparity


def sigmoid_to_depth(sigmoid: Tensor, *, min_depth_m: float, max_depth_m: float) -> Tensor:
    """Metric depth (m) of the network's sigmoid: ``1 / (1 / max + (1 / min - 1 / max) * s)`` (independent of fB)."""
    return disparity_to_depth(
        sigmoid_to_disparity(sigmoid, focal_baseline=1.0, min_depth_m=min_depth_m, max_depth_m=max_depth_m),
        focal_baseline=1.0,
    )
