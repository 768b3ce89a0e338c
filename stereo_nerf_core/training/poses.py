"""Per-keyframe pose refinement: learnable se(3) corrections ``T_refined = T_given @ se3_exp(xi)``.

``xi = (rho * translation_scale, phi)`` lives in the camera frame: the learnt parameter holds the
translation in units of ``translation_scale`` (the trainer uses the scene's median depth, so a unit
of translation moves the image about as much as a radian of rotation and one learning rate suits
both). It starts at zero and is pulled back towards zero by a regulariser. The first keyframe
registered keeps its pose (it fixes the gauge). Corrections are registered as keyframes arrive:
:meth:`PoseCorrections.register` returns the new parameter so the trainer can hand it to its
optimiser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from stereo_nerf_core.geometry.lie import se3_exp

Float = NDArray[np.float64]


class PoseCorrections(nn.Module):
    """se(3) corrections by keyframe index."""

    def __init__(self, *, translation_scale: float = 1.0) -> None:
        super().__init__()
        self.xi = nn.ParameterDict()
        self.fixed_index: int | None = None
        self.translation_scale = translation_scale

    def register(self, index: int) -> nn.Parameter | None:
        """Create the correction of keyframe ``index``; returns it, or None if it exists or is the fixed one."""
        if self.fixed_index is None:
            self.fixed_index = index
        key = str(index)
        if index == self.fixed_index or key in self.xi:
            return None
        device = next(iter(self.xi.values())).device if len(self.xi) else torch.device("cpu")
        parameter = nn.Parameter(torch.zeros(6, device=device))
        self.xi[key] = parameter
        return parameter

    def register_all(
        self, indices: list[int], optimizer: torch.optim.Optimizer, *, lr: float, device: torch.device
    ) -> None:
        """:meth:`register` keyframes ``indices``, each new correction (on ``device``) into ``optimizer`` as a
        "pose" group."""
        for index in indices:
            parameter = self.register(index)
            if parameter is not None:
                parameter.data = parameter.data.to(device)
                optimizer.add_param_group({"params": [parameter], "lr": lr, "initial_lr": lr, "name": "pose"})

    def indices(self) -> list[int]:
        """Keyframe indices with a correction, in registration order."""
        return [int(key) for key in self.xi]

    def refine(self, indices: list[int], T_given: torch.Tensor) -> torch.Tensor:
        """Refined poses (S, 4, 4) of keyframes ``indices`` from their given poses (S, 4, 4)."""
        rows = [
            self.xi[str(index)] if str(index) in self.xi else T_given.new_zeros(6) for index in indices
        ]
        if not rows:
            return T_given
        return T_given @ se3_exp(self._twists(torch.stack(rows).to(T_given.dtype)))

    def _twists(self, parameters: torch.Tensor) -> torch.Tensor:
        return torch.cat([parameters[..., :3] * self.translation_scale, parameters[..., 3:]], dim=-1)

    def regulariser(self) -> torch.Tensor:
        """Mean squared norm of the corrections (0 without any)."""
        if not len(self.xi):
            return torch.zeros(())
        return torch.stack([(xi**2).sum() for xi in self.xi.values()]).mean()

    def matrices(self) -> dict[int, Float]:
        """``se3_exp(xi)`` (4, 4) of every correction."""
        with torch.no_grad():
            return {int(key): se3_exp(self._twists(xi.detach().double().cpu())).numpy() for key, xi in self.xi.items()}


@dataclass(frozen=True)
class PoseError:
    """Difference between an estimated and a true pose."""

    translation_m: float
    rotation_deg: float


def pose_error(T_estimated: Float, T_true: Float) -> PoseError:
    """Translation (metres, of the camera centre) and rotation (degrees) between two (4, 4) poses."""
    A, B = np.asarray(T_estimated, np.float64), np.asarray(T_true, np.float64)
    R = A[:3, :3].T @ B[:3, :3]
    angle = float(np.degrees(np.arccos(np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0))))
    return PoseError(float(np.linalg.norm(A[:3, 3] - B[:3, 3])), angle)


def pose_errors(estimated: Mapping[int, Float], truth: Mapping[int, Float]) -> dict[int, PoseError]:
    """:func:`pose_error` of every keyframe index present in both."""
    return {index: pose_error(estimated[index], truth[index]) for index in estimated if index in truth}
