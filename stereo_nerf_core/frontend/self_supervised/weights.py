"""The weights file of the self-supervised depth network and inference with it.

A weights file (``torch.save`` of a plain dict, loaded with ``weights_only=True``) holds the network's
state dict and what inference needs: its width, the image downscale it was trained at, the depth range
its sigmoid maps onto and the rectified focal length (px, full resolution) of the training stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor
from torch.nn import functional

from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.self_supervised.network import DepthNet, pad_to_multiple, sigmoid_to_depth

FORMAT = "stereo_nerf/self_supervised_depth"
VERSION = 1


@dataclass(frozen=True)
class DepthWeights:
    """A trained depth network and its inference settings."""

    state_dict: dict[str, Tensor]
    base_channels: int
    """Channels of the network's first layer."""
    downscale: int
    """The network sees the rectified left image shrunk by this factor."""
    min_depth_m: float
    """Depth of sigmoid 1 (m)."""
    max_depth_m: float
    """Depth of sigmoid 0 (m)."""
    fx_px: float
    """Rectified focal length (px, full resolution) of the training stream; depth scales with fx at inference."""
    steps: int = 0
    """Training steps taken."""

    def network(self, device: str = "cpu") -> DepthNet:
        """The network with these weights, in eval mode on ``device``."""
        model = DepthNet(base_channels=self.base_channels)
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()


def save_weights(path: Path | str, weights: DepthWeights) -> Path:
    """Write ``weights`` to ``path`` (parent folders created); returns the path."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format": FORMAT,
            "version": VERSION,
            "state_dict": {name: value.detach().cpu() for name, value in weights.state_dict.items()},
            "base_channels": weights.base_channels,
            "downscale": weights.downscale,
            "min_depth_m": weights.min_depth_m,
            "max_depth_m": weights.max_depth_m,
            "fx_px": weights.fx_px,
            "steps": weights.steps,
        },
        file,
    )
    return file


def load_weights(path: Path | str, *, parameter: str = "depth_prior.self_supervised_weights_path") -> DepthWeights:
    """Read a weights file; a missing or foreign file is a :class:`FrontendError` naming ``parameter`` and the path."""
    text = str(path)
    if not text:
        raise FrontendError(
            f"{parameter} is empty: the self_supervised backend needs a weights file "
            "(train one with `stereo-nerf train-self-supervised BAG --out weights.pt`)"
        )
    file = Path(text).expanduser()
    if not file.is_file():
        raise FrontendError(f"{parameter} {file}: no such file (train one with `stereo-nerf train-self-supervised`)")
    try:
        content: Any = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, pickle or zip errors for foreign files
        raise FrontendError(f"{parameter} {file}: not a torch file torch can load ({error})") from error
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise FrontendError(f"{parameter} {file}: not a self-supervised depth weights file (format {FORMAT!r})")
    if content.get("version") != VERSION:
        raise FrontendError(f"{parameter} {file}: weights version {content.get('version')}, expected {VERSION}")
    try:
        weights = DepthWeights(
            state_dict=dict(content["state_dict"]),
            base_channels=int(content["base_channels"]),
            downscale=int(content["downscale"]),
            min_depth_m=float(content["min_depth_m"]),
            max_depth_m=float(content["max_depth_m"]),
            fx_px=float(content["fx_px"]),
            steps=int(content.get("steps", 0)),
        )
        weights.network()
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise FrontendError(f"{parameter} {file}: incomplete or inconsistent weights ({error})") from error
    return weights


def image_tensor(rgb: NDArray[np.uint8], downscale: int, device: str | torch.device = "cpu") -> Tensor:
    """(1, 3, H / downscale, W / downscale) float tensor in [0, 1] of an (H, W, 3) or (H, W) uint8 image (area mean)."""
    image = rgb if rgb.ndim == 3 else np.repeat(rgb[:, :, None], 3, axis=2)
    if downscale > 1:
        size = (image.shape[1] // downscale, image.shape[0] // downscale)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    array = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)
    return torch.from_numpy(array).to(device)


def predict_sigmoid(model: DepthNet, image: Tensor) -> Tensor:
    """The finest sigmoid disparity (B, 1, h, w) of images (B, 3, h, w) of any size (padded for the network)."""
    height, width = image.shape[-2:]
    return model(pad_to_multiple(image))[0][:, :, :height, :width]


def predict_depth(
    model: DepthNet,
    rgb: NDArray[np.uint8],
    *,
    downscale: int,
    min_depth_m: float,
    max_depth_m: float,
    depth_scale: float = 1.0,
) -> NDArray[np.float32]:
    """Metric depth (H, W) in metres of a rectified left image (H, W[, 3]) uint8, times ``depth_scale``.

    The network runs on the image shrunk by ``downscale``; its sigmoid is upsampled bilinearly to (H, W).
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        sigmoid = predict_sigmoid(model, image_tensor(rgb, downscale, device))
        sigmoid = functional.interpolate(sigmoid, size=rgb.shape[:2], mode="bilinear", align_corners=False)
        depth = sigmoid_to_depth(sigmoid, min_depth_m=min_depth_m, max_depth_m=max_depth_m) * depth_scale
    model.train(was_training)
    return np.asarray(depth[0, 0].float().cpu().numpy(), dtype=np.float32)
