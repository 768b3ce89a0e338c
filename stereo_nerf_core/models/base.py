"""The model interface: a field, the callbacks the renderer samples it with, and its own loss terms.

The trainer keeps the loop, the optimiser, the thread and the checkpoints; everything that depends on
what the network is (densities or signed distances, static or time-conditioned) lives in a
:class:`Model`. A new model is one module with a :class:`Model` subclass plus an entry in
:data:`~stereo_nerf_core.models.registry.MODELS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from torch import Tensor, nn

from stereo_nerf_core.fields.hash_grid import HashGridEncoding
from stereo_nerf_core.learning_config import TrainerConfig
from stereo_nerf_core.render.callbacks import RadianceCallbacks
from stereo_nerf_core.render.renderer import RenderOutput, SamplingConfig

Geometry = Literal["density", "sdf"]


class Model(nn.Module, ABC):
    """A trainable scene model over the box ``[bounds_min, bounds_max]`` (metres, world frame)."""

    geometry: ClassVar[Geometry]
    """What :meth:`geometry_at` returns: a density in 1/m (surface at a level) or a signed distance (level 0)."""
    time_conditioned: ClassVar[bool] = False
    """Whether the scene changes with the rays' ``times`` (seconds)."""

    def __init__(self, field_config: Any, *, bounds_min: Sequence[float], bounds_max: Sequence[float]) -> None:
        super().__init__()
        self.field_config = field_config
        self.bounds_min, self.bounds_max = list(bounds_min), list(bounds_max)

    @abstractmethod
    def callbacks(self) -> RadianceCallbacks:
        """The network as render callbacks (time-conditioned models read ``Samples.times``)."""

    @abstractmethod
    def geometry_at(self, positions: Tensor, time_s: float | None = None) -> Tensor:
        """(M,) density (1/m) or signed distance (m) at ``positions`` (M, 3), at ``time_s`` (None: the latest)."""

    @abstractmethod
    def colour_at(self, positions: Tensor, directions: Tensor, time_s: float | None = None) -> Tensor:
        """(M, 3) colour at ``positions`` (M, 3) seen along ``directions`` (M, 3)."""

    @abstractmethod
    def occupancy_opacity(self, positions: Tensor, *, step_m: float, cell_diagonal_m: float) -> Tensor:
        """(M,) opacity in [0, 1] of one marching step ``step_m`` at ``positions``, for the occupancy grid."""

    def losses(self, out: RenderOutput, config: TrainerConfig) -> dict[str, Tensor]:
        """The model's own weighted loss terms for rendered ``out`` (none by default)."""
        return {}

    def initialise(self, sampling: SamplingConfig) -> None:
        """Adapt the fresh network to the scene's depth range (nothing by default)."""

    def observe_time(self, time_s: float) -> None:
        """A keyframe at ``time_s`` joined training (time-conditioned models widen their span)."""

    def parameter_groups(self, *, lr_hash: float, lr_network: float) -> list[dict[str, Any]]:
        """Adam groups: hash tables at ``lr_hash``, everything else at ``lr_network``."""
        hash_ids = {id(p) for m in self.modules() if isinstance(m, HashGridEncoding) for p in m.parameters()}
        tables = [p for p in self.parameters() if id(p) in hash_ids]
        others = [p for p in self.parameters() if id(p) not in hash_ids]
        return [
            {"params": tables, "lr": lr_hash, "initial_lr": lr_hash, "name": "hash"},
            {"params": others, "lr": lr_network, "initial_lr": lr_network, "name": "network"},
        ]
