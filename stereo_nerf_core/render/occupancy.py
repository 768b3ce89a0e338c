"""Occupancy grid (Instant-NGP, nerfacc): march rays through occupied space only, when there is no depth prior.

A (R, R, R) grid over the scene box keeps, per cell, an exponential moving maximum of the field's
*opacity* over one marching step: NeRF ``1 - exp(-density * step)``, SDF ``exp(-|sdf| / band)``
(the zero-level shell; NeuS interiors are not occupied). A cell is occupied when that value
exceeds ``min(threshold, mean)`` (the mean keeps a young, faint field from emptying the grid), or
when a neighbour does (one dilation: a cell is measured at one jittered point).
A fresh grid is fully occupied.

:func:`occupied_samples` marches ``candidates`` equal steps from near to far, keeps the steps
in occupied cells, drops (NeRF) those behind an estimated transmittance of ``1e-4`` (the grid's
opacities multiplied along the ray, lagged by one cell diagonal), and returns at most
``max_samples`` of them per ray, evenly thinned (each kept step then owns the thinned-out steps'
length). Unused slots have length 0 and
``valid`` False; the renderer evaluates the field on valid samples only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from stereo_nerf_core.render.errors import RenderError

OpacityFn = Callable[[Tensor], Tensor]
"""Opacity (M,) in [0, 1] over one marching step at positions (M, 3): how a model tells the grid what is occupied."""

TRANSMITTANCE_FLOOR = 1e-4


@dataclass
class MarchedSamples:
    """Samples of N rays in S slots (S = ``max_samples``)."""

    t_mid: Tensor
    """(N, S) ray distances of the evaluated points (unused slots: the ray's far distance)."""
    deltas: Tensor
    """(N, S) interval lengths owned by the samples (0 in unused slots)."""
    valid: Tensor
    """(N, S) bool, the slot holds a sample."""


class OccupancyGrid:
    """The grid's state: ``values`` (R, R, R) float32 opacities and ``occupied`` (R, R, R) bool."""

    def __init__(
        self, low: Tensor, high: Tensor, *, resolution: int = 64, threshold: float = 0.01, decay: float = 0.95
    ) -> None:
        if resolution < 2:
            raise RenderError(f"occupancy resolution must be >= 2, got {resolution}")
        if not 0.0 < threshold < 1.0 or not 0.0 <= decay <= 1.0:
            raise RenderError(f"need 0 < threshold < 1 and 0 <= decay <= 1, got {threshold} and {decay}")
        if low.shape != (3,) or high.shape != (3,) or not bool((high > low).all()):
            raise RenderError(f"grid bounds must be (3,) with high > low, got {low.tolist()} .. {high.tolist()}")
        self.low, self.high = low.float(), high.float()
        self.resolution, self.threshold, self.decay = resolution, threshold, decay
        self.values = torch.ones((resolution,) * 3, device=low.device)
        self.occupied = torch.ones((resolution,) * 3, dtype=torch.bool, device=low.device)
        self.updates = 0

    @property
    def cell_size(self) -> Tensor:
        """(3,) cell extent in metres."""
        return (self.high - self.low) / self.resolution

    def to(self, device: torch.device | str) -> OccupancyGrid:
        """Move the state to ``device`` (in place); returns self."""
        for name in ("low", "high", "values", "occupied"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def cell_index(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Flat cell indices (...) of ``positions`` (..., 3) and whether they lie inside the box (...)."""
        unit = (positions.float() - self.low) / (self.high - self.low)
        inside = ((unit >= 0.0) & (unit < 1.0)).all(dim=-1)
        cell = (unit * self.resolution).long().clamp(0, self.resolution - 1)
        flat = (cell[..., 0] * self.resolution + cell[..., 1]) * self.resolution + cell[..., 2]
        return flat, inside

    def lookup(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Occupancy (...) bool and opacity value (...) of ``positions`` (..., 3); outside the box: empty, 0."""
        flat, inside = self.cell_index(positions)
        occupied = self.occupied.reshape(-1)[flat] & inside
        return occupied, torch.where(inside, self.values.reshape(-1)[flat], 0.0)

    @torch.no_grad()
    def update(self, opacity_fn: OpacityFn, *, generator: torch.Generator | None = None, chunk: int = 65536) -> None:
        """Re-measure every cell at one jittered point with ``opacity_fn`` and refresh ``occupied``."""
        r = self.resolution
        axis = torch.arange(r, device=self.low.device, dtype=torch.float32)
        grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
        jitter = torch.rand(grid.shape, generator=generator, device=self.low.device)
        positions = self.low + (grid + jitter) * self.cell_size
        measured = torch.cat([opacity_fn(part).float() for part in positions.split(chunk)])
        values = torch.maximum(self.values.reshape(-1) * self.decay, measured) if self.updates else measured
        self.values = values.reshape((r,) * 3)
        self.occupied = _occupied(self.values, self.threshold)
        self.updates += 1

    def state_dict(self) -> dict[str, Tensor | int | float]:
        """Everything needed to restore the grid (see :meth:`load_state_dict`)."""
        return {"low": self.low.cpu(), "high": self.high.cpu(), "values": self.values.cpu(),
                "threshold": self.threshold, "decay": self.decay, "updates": self.updates}

    @classmethod
    def from_state_dict(cls, state: dict[str, Tensor | int | float], device: torch.device | str) -> OccupancyGrid:
        """The grid of :meth:`state_dict` on ``device``."""
        values = state["values"]
        assert isinstance(values, Tensor)
        low, high = state["low"], state["high"]
        assert isinstance(low, Tensor) and isinstance(high, Tensor)
        grid = cls(low, high, resolution=values.shape[0], threshold=float(state["threshold"]),
                   decay=float(state["decay"]))
        grid.values, grid.updates = values.clone(), int(state["updates"])
        grid.occupied = _occupied(values, grid.threshold)
        return grid.to(device)


def _occupied(values: Tensor, threshold: float) -> Tensor:
    """Cells above ``min(threshold, mean)``, dilated by one cell (one jittered point per cell can miss a corner)."""
    above = (values > min(threshold, float(values.mean()))).float()
    return torch.nn.functional.max_pool3d(above[None, None], 3, stride=1, padding=1)[0, 0] > 0


def occupied_samples(
    origins: Tensor,
    directions: Tensor,
    near: Tensor,
    far: Tensor,
    grid: OccupancyGrid,
    *,
    candidates: int,
    max_samples: int,
    stratified: bool,
    generator: torch.Generator | None,
    transmittance_pruning: bool = True,
) -> MarchedSamples:
    """March rays (``origins``, unit ``directions`` (N, 3); ``near``, ``far`` (N,) distances) through ``grid``.

    See the module docstring. Jittered by one random offset per ray when ``stratified``, else centred.
    """
    n = origins.shape[0]
    if origins.shape != (n, 3) or directions.shape != (n, 3) or near.shape != (n,) or far.shape != (n,):
        raise RenderError(
            "need origins and directions (N, 3) and near and far (N,), got "
            f"{tuple(origins.shape)}, {tuple(directions.shape)}, {tuple(near.shape)}, {tuple(far.shape)}"
        )
    if candidates < 1 or max_samples < 1:
        raise RenderError(f"need candidates >= 1 and max_samples >= 1, got {candidates} and {max_samples}")
    with torch.no_grad():
        step = ((far - near) / candidates).float()
        offset = (
            torch.rand((n, 1), generator=generator, device=origins.device) if stratified
            else torch.full((n, 1), 0.5, device=origins.device)
        )
        t = near.float()[:, None] + (torch.arange(candidates, device=origins.device) + offset) * step[:, None]
        points = origins.float()[:, None, :] + directions.float()[:, None, :] * t[..., None]
        keep, value = grid.lookup(points)
        if transmittance_pruning and candidates > 1:
            # A cell's opacity is a maximum over the cell: lag the estimate by one cell diagonal so the steps
            # behind an entered cell's front stay until the ray has crossed a whole opaque cell.
            alpha = torch.where(keep, value, 0.0).clamp(0.0, 1.0 - 1e-6)
            transmittance = torch.exp(torch.cumsum(torch.log1p(-alpha), dim=1) - torch.log1p(-alpha))
            lag = min(candidates - 1, math.ceil(float(torch.linalg.vector_norm(grid.cell_size)) / float(step.min())))
            lagged = torch.cat([torch.ones_like(transmittance[:, :lag]), transmittance[:, : candidates - lag]], dim=1)
            keep &= lagged > TRANSMITTANCE_FLOOR
        count = keep.sum(dim=1)
        stride = torch.div(count + max_samples - 1, max_samples, rounding_mode="floor").clamp_min(1)
        rank = torch.cumsum(keep, dim=1) - 1
        chosen = keep & (rank % stride[:, None] == 0)
        slot = torch.div(rank, stride[:, None], rounding_mode="floor")
        chosen &= slot < max_samples
        rows, cols = chosen.nonzero(as_tuple=True)
        slots = slot[rows, cols]
        t_mid = far.float()[:, None].expand(n, max_samples).clone()
        deltas = torch.zeros((n, max_samples), device=origins.device)
        valid = torch.zeros((n, max_samples), dtype=torch.bool, device=origins.device)
        t_mid[rows, slots] = t[rows, cols]
        deltas[rows, slots] = step[rows] * stride[rows].float()
        valid[rows, slots] = True
    return MarchedSamples(t_mid, deltas, valid)


def marching_step(near_m: float, far_m: float, candidates: int) -> float:
    """The marching step (metres) the grid's NeRF opacities refer to: the depth range over ``candidates``."""
    if candidates < 1 or not math.isfinite(far_m - near_m) or far_m <= near_m:
        raise RenderError(f"need candidates >= 1 and far_m > near_m, got {candidates}, {near_m}, {far_m}")
    return (far_m - near_m) / candidates
