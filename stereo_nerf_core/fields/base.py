"""The interface every radiance field implements: positions and view directions in, colour and geometry out.

A field is a ``torch.nn.Module`` that the renderer only ever calls (nerfacc style: rendering is pure
functions, the network enters as a callback). ``mode`` says how its geometry is expressed:
``"nerf"`` fields return a volume ``density`` (1/m), ``"sdf"`` fields a signed distance ``sdf``
(metres, positive in free space) and its spatial ``gradient``. Positions are world coordinates in
metres; directions are unit vectors in the world frame.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from stereo_nerf_core.fields.errors import FieldError

FieldMode = Literal["nerf", "sdf"]


@dataclass
class FieldOutput:
    """What a field returns for N query points."""

    rgb: Tensor
    """(N, 3) colour in [0, 1]."""
    density: Tensor | None = None
    """(N,) volume density >= 0 in 1/m (``mode == "nerf"``), else None."""
    sdf: Tensor | None = None
    """(N,) signed distance in metres, positive in free space (``mode == "sdf"``), else None."""
    gradient: Tensor | None = None
    """(N, 3) d sdf / d x in the world frame (``mode == "sdf"``: normals and the eikonal loss), else None."""


def check_points(positions: Tensor, name: str = "positions") -> None:
    """Raise :class:`FieldError` unless ``positions`` is a floating (N, 3) tensor."""
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise FieldError(f"{name} must have shape (N, 3), got {tuple(positions.shape)}")
    if not positions.is_floating_point():
        raise FieldError(f"{name} must be a floating-point tensor, got {positions.dtype}")


def check_query(positions: Tensor, directions: Tensor) -> None:
    """Raise :class:`FieldError` unless positions and directions are both (N, 3) with the same N."""
    check_points(positions, "positions")
    check_points(directions, "directions")
    if positions.shape[0] != directions.shape[0]:
        raise FieldError(
            f"positions (N, 3) and directions (N, 3) must have the same N, got {positions.shape[0]} and "
            f"{directions.shape[0]}"
        )


class Field(torch.nn.Module, ABC):
    """Abstract radiance field; subclasses set ``mode`` and implement :meth:`forward`.

    The cheap geometry-only paths :meth:`density` and :meth:`sdf` (used by the renderer's coarse,
    gradient-free pass and by marching cubes) default to a full forward with dummy directions;
    subclasses override them to skip the colour branch.
    """

    mode: FieldMode

    @abstractmethod
    def forward(self, positions: Tensor, directions: Tensor) -> FieldOutput:
        """Colour and geometry at ``positions`` (N, 3) world metres seen along unit ``directions`` (N, 3)."""

    def __call__(self, positions: Tensor, directions: Tensor) -> FieldOutput:
        output: FieldOutput = super().__call__(positions, directions)
        return output

    def density(self, positions: Tensor) -> Tensor:
        """(N,) density in 1/m at ``positions`` (N, 3); ``"nerf"`` fields only."""
        check_points(positions)
        output = self(positions, _dummy_directions(positions))
        if output.density is None:
            raise FieldError(f"{type(self).__name__} is a {self.mode!r} field and has no density")
        return output.density

    def sdf(self, positions: Tensor) -> Tensor:
        """(N,) signed distance in metres at ``positions`` (N, 3); ``"sdf"`` fields only."""
        check_points(positions)
        output = self(positions, _dummy_directions(positions))
        if output.sdf is None:
            raise FieldError(f"{type(self).__name__} is a {self.mode!r} field and has no sdf")
        return output.sdf

    def inv_s(self) -> Tensor:
        """Scalar NeuS sharpness 1/s in 1/m (``"sdf"`` fields only)."""
        raise FieldError(f"{type(self).__name__} is a {self.mode!r} field and has no NeuS sharpness inv_s")


def _dummy_directions(positions: Tensor) -> Tensor:
    directions = torch.zeros_like(positions)
    directions[:, 2] = 1.0
    return directions
