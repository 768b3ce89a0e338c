"""Configuration groups of the learned parts: ``trainer``, ``pose_free`` and ``self_supervised``.

Part of the pipeline configuration (:mod:`stereo_nerf_core.config` re-exports them); each field declared
once with ``config_checks.param`` (default, description, range, unit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from stereo_nerf_core.config_checks import check_declared, derived, param
from stereo_nerf_core.errors import ConfigError


@dataclass(frozen=True)
class TrainerConfig:
    """Online training of the neural field (NeRF or NeuS SDF) from the keyframe buffer."""

    GROUP: ClassVar[str] = "trainer"

    mode: str = param(
        "nerf",
        'Model (stereo_nerf_core.models.MODELS): "nerf" (density), "sdf" (NeuS signed distance, eikonal loss), '
        '"deformable" or "deformable_sdf" (the same under a time-conditioned deformation, for moving tissue).',
    )
    time_span_s: float = param(
        0.0,
        "Deformable models: seconds from the first keyframe their time knots cover; later renders hold the last "
        "state. 0: the bag's duration in a replay, else the buffered keyframes' span but at least 60 s.",
        low=0.0,
        high=1e6,
        unit="s",
    )
    time_knots: int = param(
        32,
        "Deformable models: knots over time_span_s (the deformation is linear in time between them).",
        low=2,
        high=4096,
    )
    time_smoothness_weight: float = param(
        0.001, "Deformable models: weight of the squared difference between neighbouring time knots.", low=0.0, high=1e3
    )
    seed: int = param(0, "Seed of the field's initialisation and of ray sampling.", low=0, high=2**31 - 1)
    buffer_capacity: int = param(
        64, "Keyframes kept for training; the oldest is dropped beyond it.", low=1, high=100_000
    )
    rays_per_batch: int = param(512, "Rays per training step (patch rays for SSIM included).", low=1, high=1_000_000)
    grid_levels: int = param(
        8,
        "Hash-grid resolution levels of the field (when the trainer chooses the field configuration).",
        low=1,
        high=32,
    )
    grid_log2_table_size: int = param(16, "log2 of the hash-table entries per hashed level.", low=4, high=24)
    grid_max_resolution: int = param(
        512, "Cells per axis of the finest hash-grid level over the scene box.", low=16, high=65_536
    )
    prior_samples: int = param(
        12,
        "Samples per ray drawn from the Gaussian around the depth prior (training and guided renders).",
        low=1,
        high=1024,
    )
    uniform_samples: int = param(
        4,
        "Uniform samples per ray over the depth range (with a prior; without one, the coarse pass).",
        low=1,
        high=1024,
    )
    coarse_samples: int = param(
        32,
        "Uniform samples per ray of the coarse pass when rendering without a prior (novel views, refinement).",
        low=1,
        high=1024,
    )
    importance_samples: int = param(
        32, "Samples per ray drawn from the coarse pass's weights when a ray has no prior.", low=0, high=1024
    )
    occupancy_resolution: int = param(
        0,
        "Cells per axis of the occupancy grid that lets prior-less rays skip empty space (0: no grid). Off by "
        "default: on DTU it made steps about 1.5x faster but cost 4 dB held-out PSNR (cells pruned early are "
        "never sampled again).",
        low=0,
        high=512,
    )
    occupancy_warmup_steps: int = param(
        256,
        "Steps before the grid is first measured (prior-less rays use coarse + importance samples until then).",
        low=0,
        high=100_000_000,
    )
    occupancy_update_period: int = param(16, "Steps between grid measurements.", low=1, high=100_000_000)
    occupancy_threshold: float = param(
        0.01, "Opacity over one marching step above which a grid cell is occupied.", low=1e-6, high=0.999
    )
    march_candidates: int = param(
        256,
        "Equal marching steps over the depth range for prior-less rays once the grid is measured.",
        low=1,
        high=65536,
    )
    march_max_samples: int = param(64, "Most field evaluations per marched ray.", low=1, high=4096)
    mask_guide_sample_rate: float = param(
        1.0,
        "Share of rays drawn inside each keyframe's tissue mask; the rest uniformly (those outside drive no loss).",
        low=0.0,
        high=1.0,
    )
    recency_share: float = param(
        0.25,
        "Share of rays drawn from the newest recency_window keyframes (the rest from all keyframes).",
        low=0.0,
        high=1.0,
    )
    recency_window: int = param(4, "Number of newest keyframes the recency share goes to.", low=1, high=100_000)
    binocular: bool = param(
        True, "Also train on the right images (right pose = left pose moved by the baseline) when keyframes carry them."
    )
    photometric_loss: str = param(
        "huber", 'Colour loss: "l1" or "huber" (smooth L1) on RGB in [0, 1], over tissue rays only.'
    )
    huber_delta: float = param(0.05, "Transition point of the Huber colour loss (RGB units).", low=1e-6, high=1.0)
    depth_loss_weight: float = param(
        0.5,
        "Weight of the confidence-weighted Huber loss of the relative depth error (Z_rendered - Z_prior) / Z_prior.",
        low=0.0,
        high=1e6,
    )
    depth_loss_delta: float = param(
        0.02,
        "Relative depth error above which the depth loss grows linearly (Huber), so prior outliers weigh less.",
        low=1e-6,
        high=10.0,
    )
    eikonal_weight: float = param(0.1, "Weight of the eikonal loss (|grad sdf| = 1) in sdf mode.", low=0.0, high=1e6)
    ssim_weight: float = param(
        0.0, "Weight of 1 - SSIM on small image patches (0 disables patch sampling).", low=0.0, high=1e6
    )
    ssim_patches: int = param(4, "Patches per batch for the SSIM loss.", low=1, high=10_000)
    ssim_patch_px: int = param(8, "Side of an SSIM patch in pixels.", low=3, high=64, unit="px")
    opacity_weight: float = param(
        0.1,
        "Weight of the opacity loss pulling tissue rays to full opacity (their surface is inside the scene).",
        low=0.0,
        high=1e6,
    )
    surface_photometric_weight: float = param(
        0.0,
        "Weight of NoPe-NeRF's photometric surface loss: a ray's rendered surface point must have its colour in "
        "the neighbouring keyframe (ties consecutive poses together; used by pose-free runs).",
        low=0.0,
        high=1e6,
    )
    mask_loss_weight: float = param(
        0.0,
        "Weight of the mask loss (BCE of opacity against keyframes' object masks, where they have one).",
        low=0.0,
        high=1e6,
    )
    distortion_weight: float = param(
        0.0,
        "Weight of the mip-NeRF 360 distortion loss (compact weights along each ray; helps prior-free sampling).",
        low=0.0,
        high=1e6,
    )
    lr_hash: float = param(0.01, "Adam learning rate of the hash-grid tables.", low=0.0, high=10.0)
    lr_network: float = param(
        0.005, "Adam learning rate of the MLPs and every other field parameter.", low=0.0, high=10.0
    )
    lr_decay_steps: int = param(
        5000,
        "Learning rates fall by 10x every this many steps (exponentially); 0 keeps them constant.",
        low=0,
        high=100_000_000,
    )
    bounds_padding: float = param(
        0.1,
        "Scene bounds: the box of the prior-depth points, grown on every side by this share of its largest side.",
        low=0.0,
        high=10.0,
    )
    min_depth_m: float = derived(0.02, "scene.min_depth_m")
    max_depth_m: float = derived(0.3, "scene.max_depth_m")
    """Without prior depth (a monocular recording) the scene box is the keyframes' view frusta between these."""
    depth_refine_start: int = param(
        300,
        "Step of the first depth-refinement round (replacing invalid prior pixels by rendered depth).",
        low=0,
        high=100_000_000,
    )
    depth_refine_period: int = param(300, "Steps between depth-refinement rounds.", low=1, high=100_000_000)
    depth_refine_rounds: int = param(
        2, "Number of depth-refinement rounds (0 disables refinement).", low=0, high=100_000
    )
    depth_refine_min_opacity: float = param(
        0.95,
        "A rendered depth replaces an invalid prior pixel only where the rendered opacity is at least this.",
        low=0.0,
        high=1.0,
    )
    depth_refine_low_confidence: float = param(
        0.1,
        "Prior pixels with a confidence below this (or no depth) count as invalid and may be refined.",
        low=0.0,
        high=1.0,
    )
    depth_refine_confidence: float = param(
        0.3, "Confidence given to refined pixels (so they weigh less than measured ones).", low=0.0, high=1.0
    )
    pose_refinement: bool = param(
        False, "Learn a se(3) correction of every keyframe pose (the first keyframe's stays fixed)."
    )
    lr_pose: float = param(0.0003, "Adam learning rate of the pose corrections.", low=0.0, high=10.0)
    pose_refine_start: int = param(
        200,
        "Step from which pose corrections are learnt (the field first fits the given poses).",
        low=0,
        high=100_000_000,
    )
    pose_regularisation: float = param(
        0.01,
        "Weight of the squared norm of the pose corrections (pulls them towards the front-end's poses).",
        low=0.0,
        high=1e6,
    )
    mixed_precision: bool = param(True, "Autocast to float16 on CUDA (ignored on the CPU).")
    render_chunk: int = param(16384, "Rays rendered at once when rendering whole images.", low=1, high=10_000_000)

    def __post_init__(self) -> None:
        check_declared(self)
        if not self.mode:
            raise ConfigError("trainer.mode must name a model (see stereo_nerf_core.models.MODELS), got ''")
        if self.photometric_loss not in ("l1", "huber"):
            raise ConfigError(f"trainer.photometric_loss must be 'l1' or 'huber', got {self.photometric_loss!r}")
        if self.occupancy_resolution == 1:
            raise ConfigError("trainer.occupancy_resolution must be 0 (no grid) or >= 2, got 1")
        if self.ssim_weight > 0 and self.ssim_patches * self.ssim_patch_px**2 > self.rays_per_batch:
            raise ConfigError("trainer.ssim_patches * trainer.ssim_patch_px^2 must not exceed trainer.rays_per_batch")


@dataclass(frozen=True)
class PoseFreeConfig:
    """Pose-free reconstruction (NoPe-NeRF line): poses from the priors (stage 1), then jointly with the field."""

    GROUP: ClassVar[str] = "pose_free"

    initial_poses: str = param(
        "identity",
        'Start of the poses: "identity" (every frame at the first one\'s pose) or "odometry" (the poses the '
        "frames carry: the bag's /tf for the pose-free CLI).",
    )
    iterations: int = param(
        200,
        "Stage 1: Adam iterations over all frame pairs (the learning rate falls 10x over them).",
        low=0,
        high=1_000_000,
    )
    learning_rate: float = param(
        0.003,
        "Stage 1: Adam learning rate of the relative poses (translation in units of the median prior depth) and "
        "of the priors' log-scale and shift.",
        low=0.0,
        high=10.0,
    )
    max_pair_offset: int = param(
        2, "Stage 1: frames i - k and i are compared for k = 1 .. this (1: consecutive frames only).", low=1, high=100
    )
    chamfer_points: int = param(
        512,
        "Stage 1: prior points per frame in the chamfer loss (nearest neighbours by brute force).",
        low=1,
        high=1_000_000,
    )
    chamfer_weight: float = param(
        1.0, "Stage 1: weight of the chamfer loss (distances in units of the median prior depth).", low=0.0, high=1e6
    )
    chamfer_iterations: int = param(
        100,
        "Stage 1: the chamfer loss drives only the first this many iterations (a coarse term: its nearest "
        "neighbours among sparse points are about a point spacing apart); the photometric loss refines after.",
        low=0,
        high=1_000_000,
    )
    photometric_points: int = param(
        4096,
        "Stage 1: pixels per frame warped into the other frame of a pair through their prior depth.",
        low=1,
        high=10_000_000,
    )
    photometric_weight: float = param(
        1.0,
        "Stage 1: weight of the photometric surface loss (mean absolute RGB difference in [0, 1]).",
        low=0.0,
        high=1e6,
    )
    blur_sigma_px: float = param(
        1.0,
        "Stage 1: Gaussian blur of the images before warping, in pixels (widens the basin; 0: none).",
        low=0.0,
        high=100.0,
        unit="px",
    )
    min_confidence: float = param(
        0.5, "Stage 1: prior pixels with a lower confidence (e.g. hole-filled ones) are not used.", low=0.0, high=1.0
    )
    learn_depth_scale: bool = param(
        True, "Stage 1: learn a depth scale and shift per prior (the first frame's stay 1 and 0)."
    )
    scale_regularisation: float = param(
        100.0,
        "Stage 1: weight of the mean squared log-scale and shift (in units of the median depth): stereo priors "
        "are metric, so they stay near scale 1, shift 0.",
        low=0.0,
        high=1e6,
    )
    seed: int = param(0, "Seed of the stage-1 pixel sampling (stage 2 uses trainer.seed).", low=0, high=2**31 - 1)
    field_steps: int = param(
        600,
        "Stage 2: trainer steps training the field with pose refinement from the stage-1 poses (0: stage 1 only).",
        low=0,
        high=100_000_000,
    )
    field_lr_pose: float = param(
        3e-05,
        "Stage 2: the trainer's lr_pose during pose-free runs (its default 3e-4 jitters the poses of many "
        "keyframes sharing a small ray batch: one-frame RPE 0.03 -> 0.22 mm on the sample bag; 3e-5 keeps 0.05 "
        "mm).",
        low=0.0,
        high=10.0,
    )
    field_surface_photometric_weight: float = param(
        0.1,
        "Stage 2: the trainer's surface_photometric_weight during pose-free runs (rendered surfaces warped into "
        "the neighbouring keyframe).",
        low=0.0,
        high=1e6,
    )

    def __post_init__(self) -> None:
        check_declared(self)
        if self.initial_poses not in ("identity", "odometry"):
            raise ConfigError(f"pose_free.initial_poses must be 'identity' or 'odometry', got {self.initial_poses!r}")


SELF_SUPERVISED_POSE_SOURCES = ("none", "odometry", "tf", "ground_truth")


@dataclass(frozen=True)
class SelfSupervisedConfig:
    """Training the self-supervised depth network (depth_prior.backend "self_supervised") from a stereo stream."""

    GROUP: ClassVar[str] = "self_supervised"

    downscale: int = param(
        2, "The network sees the rectified left image shrunk by this factor (1, 2 or 4); its depth is upsampled back."
    )
    base_channels: int = param(
        8,
        "Channels of the network's first layer; they double at each of its four downsamplings (at most 8x).",
        low=1,
        high=256,
    )
    learning_rate: float = param(
        0.0003,
        "Adam learning rate of the network (1e-3 can drive the sigmoid into saturation, where the auto-mask stops it).",
        low=0.0,
        high=10.0,
    )
    batch_size: int = param(4, "Target frames per training step.", low=1, high=1024)
    ssim_alpha: float = param(
        0.85,
        "Reprojection error: ssim_alpha * (1 - SSIM) / 2 + (1 - ssim_alpha) * L1 (Monodepth2: 0.85).",
        low=0.0,
        high=1.0,
    )
    smoothness_weight: float = param(
        0.02,
        "Weight of the edge-aware smoothness of the mean-normalised disparity (Monodepth2: 0.001; smooth tissue "
        "takes more: fewer matching-noise artefacts).",
        low=0.0,
        high=1e6,
    )
    temporal_sources: bool = param(
        True, "Also synthesise each frame from its stream neighbours through their poses (frames with a pose only)."
    )
    pose_source: str = param(
        "tf",
        'Poses of the temporal sources: "tf" (world -> left optical frame), "ground_truth" (oracle), "odometry" '
        '(stereo visual odometry on the SGBM prior) or "none" (left-right view synthesis only).',
    )
    automask: bool = param(
        True, "Monodepth2 auto-mask: drop pixels whose error without warping is below the warped one (static pixels)."
    )
    buffer_capacity: int = param(
        64, "Frames kept for training; the oldest is dropped beyond this.", low=1, high=100_000
    )
    seed: int = param(0, "Seed of the network's initialisation and of the frame sampling.", low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        check_declared(self)
        if self.downscale not in (1, 2, 4):
            raise ConfigError(f"self_supervised.downscale must be 1, 2 or 4, got {self.downscale}")
        if self.pose_source not in SELF_SUPERVISED_POSE_SOURCES:
            raise ConfigError(
                f"self_supervised.pose_source must be one of {SELF_SUPERVISED_POSE_SOURCES}, got {self.pose_source!r}"
            )
