"""Signed-distance field (NeuS mode): hash grid + MLP -> SDF and a feature; IDR-style colour.

Geometry. ``sdf(x) = init_sdf(x) + scale * mlp(x_unit, grid(x))[0]`` in metres (positive in free
space), where ``init_sdf`` is the analytic initial shape and ``scale`` half the largest extent of
the bounds. The residual MLP's output layer starts at (almost) zero, so the initial SDF is exactly
the chosen shape with ``|grad sdf| = 1`` (geometric initialisation without an approximation):

* ``"plane"`` (endoscopy default): ``n . (x - p)``, a plane through ``init_plane_point_m`` with unit
  normal ``init_plane_normal`` pointing into free space, i.e. towards the camera. With the world at
  the first camera (z forward) the defaults give ``sdf = z0 - z``: tissue at ``z0`` facing the camera.
* ``"sphere"``: ``|x - c| - r`` (NeuS: an object in the middle of the cameras).

Gradient. ``gradient_mode="autograd"`` (default) differentiates the network exactly, with
``create_graph=self.training`` (when grad mode is on) so the eikonal loss back-propagates through a
double backward (NeuS2 style; the hash-grid interpolation is twice differentiable).
``"finite_difference"`` uses central differences with step ``fd_step_m``: 6 extra SDF evaluations
batched with the main one, differentiable without a double backward, and smoother than the
piecewise-trilinear grid over a few cells (Neuralangelo). Measured on CPU (2 cores, 4096 rays x 48
samples, forward + backward + Adam): autograd about twice as fast as finite differences (7x the
hash-grid lookups), so it is the default; choose finite differences for their smoothing.

Colour (IDR): MLP of (unit-box position, unit normal, SH(view direction), geometry feature).
Sharpness: ``inv_s() = exp(log_inv_s)`` in 1/m, learnable (NeuS ``1/s``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from stereo_nerf_core.fields.base import Field, FieldOutput, check_points, check_query
from stereo_nerf_core.fields.encodings import MAX_SH_DEGREE, mlp, spherical_harmonics
from stereo_nerf_core.fields.errors import FieldError
from stereo_nerf_core.fields.hash_grid import HashGridConfig


@dataclass(frozen=True)
class SdfFieldConfig:
    """Architecture, initial shape, gradient scheme and initial sharpness of :class:`SdfField`."""

    grid: HashGridConfig = field(default_factory=HashGridConfig)
    """Position encoding."""
    hidden_width: int = 64
    """Width of every hidden layer."""
    geometry_layers: int = 2
    """Hidden layers (softplus, beta 100) of the SDF MLP."""
    geometry_feature_dim: int = 15
    """Geometry feature passed from the SDF MLP to the colour MLP."""
    color_layers: int = 2
    """Hidden layers of the colour MLP."""
    sh_degree: int = 4
    """Spherical-harmonics degree of the view-direction encoding (degree**2 features; 4 -> 16)."""
    init: Literal["sphere", "plane"] = "plane"
    """Initial shape of the SDF (see the module docstring)."""
    init_plane_point_m: tuple[float, float, float] = (0.0, 0.0, 0.08)
    """A point of the initial plane, world metres."""
    init_plane_normal: tuple[float, float, float] = (0.0, 0.0, -1.0)
    """Normal of the initial plane pointing into free space (towards the camera); normalised."""
    init_sphere_center_m: tuple[float, float, float] = (0.0, 0.0, 0.08)
    """Centre of the initial sphere, world metres."""
    init_sphere_radius_m: float = 0.03
    """Radius of the initial sphere in metres."""
    gradient_mode: Literal["finite_difference", "autograd"] = "autograd"
    """How ``FieldOutput.gradient`` is computed."""
    fd_step_m: float = 5e-4
    """Central-difference step in metres (``gradient_mode="finite_difference"``)."""
    init_inv_s: float = 100.0
    """Initial NeuS sharpness 1/s in 1/m (the logistic's scale s is 1 cm)."""

    def __post_init__(self) -> None:
        if min(self.hidden_width, self.geometry_feature_dim) < 1 or min(self.geometry_layers, self.color_layers) < 0:
            raise FieldError(f"SdfFieldConfig sizes must be positive, got {self}")
        if not 1 <= self.sh_degree <= MAX_SH_DEGREE:
            raise FieldError(f"sh_degree must be in 1..{MAX_SH_DEGREE}, got {self.sh_degree}")
        if self.init not in ("sphere", "plane"):
            raise FieldError(f"init must be 'sphere' or 'plane', got {self.init!r}")
        if self.gradient_mode not in ("finite_difference", "autograd"):
            raise FieldError(f"gradient_mode must be 'finite_difference' or 'autograd', got {self.gradient_mode!r}")
        if not (self.fd_step_m > 0 and self.init_inv_s > 0 and self.init_sphere_radius_m > 0):
            raise FieldError("fd_step_m, init_inv_s and init_sphere_radius_m must be positive")
        if math.hypot(*self.init_plane_normal) == 0.0:
            raise FieldError("init_plane_normal must be non-zero")


class SdfField(Field):
    """NeuS-mode field over the box ``[bounds_min, bounds_max]`` (metres, world frame)."""

    mode = "sdf"
    _plane_normal: Tensor
    _plane_point: Tensor
    _sphere_center: Tensor

    def __init__(self, config: SdfFieldConfig, *, bounds_min: Sequence[float], bounds_max: Sequence[float]) -> None:
        super().__init__()
        self.config = config
        self.encoding = config.grid.build(bounds_min, bounds_max)
        extent = [b - a for a, b in zip(bounds_min, bounds_max, strict=True)]
        self.residual_scale = 0.5 * max(extent)
        self.geometry_mlp = mlp(
            3 + self.encoding.output_dim,
            config.hidden_width,
            config.geometry_layers,
            1 + config.geometry_feature_dim,
            activation=lambda: nn.Softplus(beta=100.0),
        )
        last = self.geometry_mlp[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():
            last.weight[0].normal_(0.0, 1e-4)
            last.bias[0] = 0.0
        self.color_mlp = mlp(
            3 + 3 + config.sh_degree**2 + config.geometry_feature_dim, config.hidden_width, config.color_layers, 3
        )
        normal = torch.tensor(config.init_plane_normal, dtype=torch.float32)
        self.register_buffer("_plane_normal", normal / normal.norm(), persistent=False)
        self.register_buffer("_plane_point", torch.tensor(config.init_plane_point_m), persistent=False)
        self.register_buffer("_sphere_center", torch.tensor(config.init_sphere_center_m), persistent=False)
        self.log_inv_s = nn.Parameter(torch.tensor(math.log(config.init_inv_s)))

    def inv_s(self) -> Tensor:
        """Scalar NeuS sharpness ``exp(log_inv_s)`` in 1/m, clamped to [1e-3, 1e7]."""
        return self.log_inv_s.exp().clamp(1e-3, 1e7)

    def _init_sdf(self, positions: Tensor) -> Tensor:
        x = positions.float()
        if self.config.init == "plane":
            return (x - self._plane_point) @ self._plane_normal
        return (x - self._sphere_center).norm(dim=1) - self.config.init_sphere_radius_m

    def _geometry(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """SDF (N,) float32 metres and geometry feature (N, F)."""
        unit = self.encoding.normalise(positions) * 2.0 - 1.0
        out = self.geometry_mlp(torch.cat([unit, self.encoding(positions)], dim=1))
        sdf = self._init_sdf(positions) + self.residual_scale * out[:, 0].float()
        return sdf, out[:, 1:]

    def sdf(self, positions: Tensor) -> Tensor:
        """(N,) signed distance in metres at ``positions`` (N, 3): the cheap path (marching cubes, coarse pass)."""
        check_points(positions)
        return self._geometry(positions)[0]

    def _geometry_and_gradient(self, positions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.config.gradient_mode == "finite_difference":
            h = self.config.fd_step_m
            steps = torch.eye(3, device=positions.device, dtype=positions.dtype) * h
            offsets = torch.cat([steps.new_zeros(1, 3), steps, -steps])  # (7, 3): centre, +e_i, -e_i
            n = positions.shape[0]
            queries = (positions[None] + offsets[:, None]).reshape(-1, 3)
            sdf_all, feature_all = self._geometry(queries)
            sdf_all = sdf_all.view(7, n)
            gradient = (sdf_all[1:4] - sdf_all[4:7]).T / (2.0 * h)
            return sdf_all[0], feature_all[:n], gradient
        outer_grad = torch.is_grad_enabled()
        with torch.enable_grad():
            x = positions if positions.requires_grad else positions.detach().requires_grad_(True)
            sdf, feature = self._geometry(x)
            (gradient,) = torch.autograd.grad(
                sdf, x, torch.ones_like(sdf), create_graph=self.training and outer_grad, retain_graph=outer_grad
            )
        if not outer_grad:
            sdf, feature, gradient = sdf.detach(), feature.detach(), gradient.detach()
        return sdf, feature, gradient

    def forward(self, positions: Tensor, directions: Tensor) -> FieldOutput:
        """Colour (N, 3), SDF (N,) and its gradient (N, 3) at ``positions`` seen along ``directions`` (N, 3)."""
        check_query(positions, directions)
        sdf, feature, gradient = self._geometry_and_gradient(positions)
        normal = nn.functional.normalize(gradient.float(), dim=1, eps=1e-8)
        unit = self.encoding.normalise(positions) * 2.0 - 1.0
        sh = spherical_harmonics(directions, self.config.sh_degree)
        inputs = torch.cat([unit, normal, sh, feature.float()], dim=1)
        rgb = torch.sigmoid(self.color_mlp(inputs).float())
        return FieldOutput(rgb=rgb, sdf=sdf, gradient=gradient.float())
