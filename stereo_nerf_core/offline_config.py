"""Configuration groups of the offline replay: ``fusion``, ``evaluation`` and ``replay`` (re-exported by
:mod:`stereo_nerf_core.config`; each field declared with ``param``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from stereo_nerf_core.config_checks import check_declared, derived, param, param_factory
from stereo_nerf_core.config_checks import check_range as _check_range
from stereo_nerf_core.errors import ConfigError


@dataclass(frozen=True)
class FusionConfig:
    """TSDF fusion of depth priors with known poses (open3d VoxelBlockGrid)."""

    GROUP: ClassVar[str] = "fusion"

    voxel_size_m: float = param(0.0005, "TSDF voxel edge in metres.", low=1e-5, high=0.1, unit="m")
    sdf_trunc_m: float = param(
        0.003, "Truncation distance of the signed distance, in metres.", low=1e-5, high=1.0, unit="m"
    )
    max_depth_m: float = param(0.2, "Depths beyond this, in metres, are not fused.", low=1e-3, high=10.0, unit="m")
    mask_instruments: bool = param(True, "Leave instrument pixels (from the instrument mask topic) out of the fusion.")
    matched_only: bool = param(
        True, "Fuse only matched prior pixels, not hole-filled ones (other views fill those holes with real matches)."
    )
    min_weight: float = param(
        5.0, "Observations a voxel needs before its zero level becomes surface.", low=0.0, high=1e6
    )
    cull_min_views: int = param(
        1,
        "Keep only triangles that at least this many fused cameras see first (0 keeps everything).",
        low=0,
        high=1_000_000,
    )
    block_count: int = param(
        1000,
        "Initial capacity of the voxel-block hash map (blocks of 16^3 voxels, 80 kB each); it grows when needed.",
        low=16,
        high=10_000_000,
    )
    device: str = param(
        "auto", 'open3d device of the grid: "auto" (CUDA:0 when open3d has CUDA, else CPU:0), "CPU:0" or "CUDA:0".'
    )

    def __post_init__(self) -> None:
        check_declared(self)
        _check_range("fusion.sdf_trunc_m", self.sdf_trunc_m, self.voxel_size_m, 1.0)
        if self.device != "auto" and not self.device.upper().startswith(("CPU:", "CUDA:")):
            raise ConfigError(f"fusion.device must be 'auto', 'CPU:N' or 'CUDA:N', got {self.device!r}")


@dataclass(frozen=True)
class EvaluationConfig:
    """Evaluation protocol against ground truth, when the input has it."""

    GROUP: ClassVar[str] = "evaluation"

    min_depth_m: float = param(0.001, "Ground-truth depths at or below this, in metres, are ignored.", unit="m")
    max_depth_m: float = derived(0.3, "scene.max_depth_m")
    """Depth cap in metres: ground truth beyond it is ignored, predictions are clipped to it."""
    median_scaling: bool = param(
        False, "Scale predictions by the median ratio before scoring (off: stereo depth is metric)."
    )
    figure_frames: int = param(
        2, "Number of frames, evenly spread, drawn as depth comparison figures.", low=0, high=100
    )

    def __post_init__(self) -> None:
        check_declared(self)
        _check_range("evaluation.max_depth_m", self.max_depth_m, self.min_depth_m, 100.0)


@dataclass(frozen=True)
class ReplayConfig:
    """Offline replay: the methods compared in one run, held-out views and the trainer methods' budget."""

    GROUP: ClassVar[str] = "replay"

    methods: list[str] = param_factory(
        lambda: ["nearest_frame", "neighbour_blend", "stereo_prior", "tsdf_fusion", "nerf", "sdf"],
        "Methods run and scored, in report order (see pipeline/methods.py; the baselines nearest_frame, "
        "neighbour_blend and stereo_prior are always scored, first).",
    )
    held_out_every: int = param(
        8,
        "Frames 0, N, 2N, ... are held out (not fused, not trained on; rendered as novel views); 0: none. A bag "
        "whose metadata carries a test list (studies importer) uses that list instead.",
        low=0,
        high=1_000_000,
    )
    keyframe_every: int = param(
        2,
        "The trainer methods take every this-th frame (by index) that is not held out as a keyframe.",
        low=1,
        high=1_000_000,
    )
    train_downscale: int = param(
        2,
        "Trainer keyframes are resampled by 1 / this (block means); renders are scored on the full grid.",
        low=1,
        high=16,
    )
    train_steps: int = param(
        3000,
        "Training steps of each trainer method, spread over the replay as keyframes arrive.",
        low=0,
        high=100_000_000,
    )
    train_seconds: float = param(
        240.0,
        "Most training seconds of each trainer method (whichever of steps and seconds runs out first).",
        low=0.0,
        high=1e9,
        unit="s",
    )
    mesh_resolution: int = param(
        128,
        "Marching-cubes cells along the longest side of the scene box for the trainer methods' meshes.",
        low=8,
        high=1024,
    )
    timeline_every: int = param(
        22,
        "Metrics over time: every method is scored after every this many frames (0: only at the end).",
        low=0,
        high=1_000_000,
    )
    turntable_views: int = param(
        6, "Views of each method's mesh in the turntable figure (0: no turntable).", low=0, high=64
    )

    def __post_init__(self) -> None:
        check_declared(self)
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"replay.methods must name at least one method, each once, got {self.methods!r}")
        if not all(isinstance(name, str) for name in self.methods):
            raise ConfigError(f"replay.methods must be a list of method names (strings), got {self.methods!r}")
