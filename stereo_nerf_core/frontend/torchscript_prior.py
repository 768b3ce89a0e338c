"""``depth_prior.backend: torchscript``: a learned stereo network supplied as a TorchScript file.

Convention of the model (``depth_prior.model_path``), called as ``model(left, right)``:

- inputs: two ``float32`` tensors of shape ``(1, 3, H, W)``, RGB in ``[0, 1]``, the rectified left
  and right images (grey inputs are repeated over the three channels), on ``depth_prior.device``;
  ``H`` and ``W`` are the image size padded (edge-replicated, at the bottom and right) to multiples
  of 32, which most stereo networks need;
- output: the left-reference disparity in pixels of the input resolution, shape ``(1, 1, H, W)``
  (``(1, H, W)`` is accepted), or a tuple/list whose first element is that; when a second element
  of the same shape is returned it is taken as a confidence in ``[0, 1]``.

The output is cropped back to the image, non-finite or non-positive disparities mean "no depth", and
depths outside ``[min_depth_m, max_depth_m]`` are emptied. Without a confidence output, confidence is
1 where there is depth. torch is imported only when this backend is built.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import DepthPriorConfig
from stereo_nerf_core.devices import resolve_device
from stereo_nerf_core.frontend.depth_prior import DepthPrior, register_prior_backend
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.sgbm import check_rectified_pair
from stereo_nerf_core.geometry.camera import StereoCalibration

PAD_MULTIPLE = 32
"""Inputs are padded to multiples of this many pixels."""


def load_torchscript(path_text: str, device: str) -> tuple[Any, Any, str]:
    """(torch module, loaded model, device) for ``depth_prior.model_path``; clear errors for a bad file."""
    if not path_text:
        raise FrontendError("depth_prior.model_path is empty: the torchscript backend needs a TorchScript file")
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise FrontendError(f"depth_prior.model_path {path}: no such file")
    import torch

    resolved = resolve_device(device, parameter="depth_prior.device")
    try:
        with warnings.catch_warnings():  # torch 2.x deprecates TorchScript loading in favour of torch.export
            warnings.simplefilter("ignore", DeprecationWarning)
            model = torch.jit.load(str(path), map_location=resolved)
    except Exception as error:  # torch raises RuntimeError, ValueError or pickle errors for bad files
        raise FrontendError(
            f"depth_prior.model_path {path}: not a TorchScript file torch can load ({error})"
        ) from error
    model.eval()
    return torch, model, resolved


class TorchScriptBackend:
    """Runs the TorchScript stereo network of ``depth_prior.model_path`` (see the module docstring)."""

    def __init__(self, config: DepthPriorConfig) -> None:
        self.config = config
        self.path = Path(config.model_path).expanduser()
        self._torch, self._model, self.device = load_torchscript(config.model_path, config.device)

    def _tensor(self, image: NDArray[np.uint8], padded: tuple[int, int]) -> Any:
        rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
        height, width = rgb.shape[:2]
        rgb = np.pad(rgb, ((0, padded[0] - height), (0, padded[1] - width), (0, 0)), mode="edge")
        array = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / np.float32(255.0)
        return self._torch.from_numpy(array).to(self.device)

    def _as_map(self, output: Any, padded: tuple[int, int], what: str) -> NDArray[np.float32]:
        shape = tuple(getattr(output, "shape", ()))
        if shape not in ((1, 1, *padded), (1, *padded)):
            raise FrontendError(
                f"the TorchScript model {self.path} returned a {what} of shape {shape or type(output).__name__}; "
                f"expected (1, 1, {padded[0]}, {padded[1]}) for inputs (1, 3, {padded[0]}, {padded[1]})"
            )
        return np.asarray(output.detach().float().cpu().numpy(), np.float32).reshape(padded)

    def estimate(self, left: NDArray[np.uint8], right: NDArray[np.uint8], calibration: StereoCalibration) -> DepthPrior:
        """The network's prior of a rectified uint8 pair (H, W[, 3])."""
        check_rectified_pair(left, right, calibration)
        height, width = left.shape[:2]
        padded = (-(-height // PAD_MULTIPLE) * PAD_MULTIPLE, -(-width // PAD_MULTIPLE) * PAD_MULTIPLE)
        with self._torch.inference_mode():
            try:
                output = self._model(self._tensor(left, padded), self._tensor(right, padded))
            except Exception as error:  # a scripted model raises torch.jit.Error / RuntimeError on bad inputs
                raise FrontendError(
                    f"the TorchScript model {self.path} failed on a {width}x{height} pair: {error}"
                ) from error
        outputs = list(output) if isinstance(output, (tuple, list)) else [output]
        disparity = self._as_map(outputs[0], padded, "disparity")[:height, :width]
        confidence = np.ones((height, width), np.float32)
        if len(outputs) > 1:
            confidence = np.clip(self._as_map(outputs[1], padded, "confidence")[:height, :width], 0.0, 1.0)
        disparity = np.where(np.isfinite(disparity) & (disparity > 0), disparity, 0).astype(np.float32)
        depth = calibration.depth_from_disparity(disparity)
        keep = (depth >= self.config.min_depth_m) & (depth <= self.config.max_depth_m)
        return DepthPrior(
            disparity=np.where(keep, disparity, 0).astype(np.float32),
            depth=np.where(keep, depth, 0).astype(np.float32),
            confidence=np.where(keep, np.nan_to_num(confidence, nan=0.0), 0).astype(np.float32),
        )


register_prior_backend("torchscript", TorchScriptBackend)
