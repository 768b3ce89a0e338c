"""Configuration groups of the learned parts: ``trainer``, ``pose_free`` and ``self_supervised``.

Part of the pipeline configuration (:mod:`stereo_nerf_core.config` re-exports them); one
docstring per field, which the ROS nodes use as parameter descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from stereo_nerf_core.config_checks import check_range as _check_range
from stereo_nerf_core.errors import ConfigError


@dataclass(frozen=True)
class TrainerConfig:
    """Online training of the neural field (NeRF or NeuS SDF) from the keyframe buffer."""

    mode: str = "nerf"
    """Model (stereo_nerf_core.models.MODELS): "nerf" (density), "sdf" (NeuS signed distance, eikonal loss),
    "deformable" or "deformable_sdf" (the same under a time-conditioned deformation, for moving tissue)."""
    time_span_s: float = 0.0
    """Deformable models: seconds from the first keyframe their time knots cover; later renders hold the last
    state. 0: the bag's duration in a replay, else the buffered keyframes' span but at least 60 s."""
    time_knots: int = 32
    """Deformable models: knots over time_span_s (the deformation is linear in time between them)."""
    time_smoothness_weight: float = 0.001
    """Deformable models: weight of the squared difference between neighbouring time knots."""
    seed: int = 0
    """Seed of the field's initialisation and of ray sampling."""
    buffer_capacity: int = 64
    """Keyframes kept for training; the oldest is dropped beyond it."""
    rays_per_batch: int = 512
    """Rays per training step (patch rays for SSIM included)."""
    grid_levels: int = 8
    """Hash-grid resolution levels of the field (when the trainer chooses the field configuration)."""
    grid_log2_table_size: int = 16
    """log2 of the hash-table entries per hashed level."""
    grid_max_resolution: int = 512
    """Cells per axis of the finest hash-grid level over the scene box."""
    prior_samples: int = 12
    """Samples per ray drawn from the Gaussian around the depth prior (training and guided renders)."""
    uniform_samples: int = 4
    """Uniform samples per ray over the depth range (with a prior; without one, the coarse pass)."""
    coarse_samples: int = 32
    """Uniform samples per ray of the coarse pass when rendering without a prior (novel views, refinement)."""
    importance_samples: int = 32
    """Samples per ray drawn from the coarse pass's weights when a ray has no prior."""
    occupancy_resolution: int = 0
    """Cells per axis of the occupancy grid that lets prior-less rays skip empty space (0: no grid). Off by
    default: on DTU it made steps about 1.5x faster but cost 4 dB held-out PSNR (cells pruned early are never
    sampled again)."""
    occupancy_warmup_steps: int = 256
    """Steps before the grid is first measured (prior-less rays use coarse + importance samples until then)."""
    occupancy_update_period: int = 16
    """Steps between grid measurements."""
    occupancy_threshold: float = 0.01
    """Opacity over one marching step above which a grid cell is occupied."""
    march_candidates: int = 256
    """Equal marching steps over the depth range for prior-less rays once the grid is measured."""
    march_max_samples: int = 64
    """Most field evaluations per marched ray."""
    mask_guide_sample_rate: float = 1.0
    """Share of rays drawn inside each keyframe's tissue mask; the rest uniformly (those outside drive no loss)."""
    recency_share: float = 0.25
    """Share of rays drawn from the newest recency_window keyframes (the rest from all keyframes)."""
    recency_window: int = 4
    """Number of newest keyframes the recency share goes to."""
    binocular: bool = True
    """Also train on the right images (right pose = left pose moved by the baseline) when keyframes carry them."""
    photometric_loss: str = "huber"
    """Colour loss: "l1" or "huber" (smooth L1) on RGB in [0, 1], over tissue rays only."""
    huber_delta: float = 0.05
    """Transition point of the Huber colour loss (RGB units)."""
    depth_loss_weight: float = 0.5
    """Weight of the confidence-weighted Huber loss of the relative depth error (Z_rendered - Z_prior) / Z_prior."""
    depth_loss_delta: float = 0.02
    """Relative depth error above which the depth loss grows linearly (Huber), so prior outliers weigh less."""
    eikonal_weight: float = 0.1
    """Weight of the eikonal loss (|grad sdf| = 1) in sdf mode."""
    ssim_weight: float = 0.0
    """Weight of 1 - SSIM on small image patches (0 disables patch sampling)."""
    ssim_patches: int = 4
    """Patches per batch for the SSIM loss."""
    ssim_patch_px: int = 8
    """Side of an SSIM patch in pixels."""
    opacity_weight: float = 0.1
    """Weight of the opacity loss pulling tissue rays to full opacity (their surface is inside the scene)."""
    surface_photometric_weight: float = 0.0
    """Weight of NoPe-NeRF's photometric surface loss: a ray's rendered surface point must have its colour in
    the neighbouring keyframe (ties consecutive poses together; used by pose-free runs)."""
    mask_loss_weight: float = 0.0
    """Weight of the mask loss (BCE of opacity against keyframes' object masks, where they have one)."""
    distortion_weight: float = 0.0
    """Weight of the mip-NeRF 360 distortion loss (compact weights along each ray; helps prior-free sampling)."""
    lr_hash: float = 0.01
    """Adam learning rate of the hash-grid tables."""
    lr_network: float = 0.005
    """Adam learning rate of the MLPs and every other field parameter."""
    lr_decay_steps: int = 5000
    """Learning rates fall by 10x every this many steps (exponentially); 0 keeps them constant."""
    bounds_padding: float = 0.1
    """Scene bounds: the box of the prior-depth points, grown on every side by this share of its largest side."""
    depth_refine_start: int = 300
    """Step of the first depth-refinement round (replacing invalid prior pixels by rendered depth)."""
    depth_refine_period: int = 300
    """Steps between depth-refinement rounds."""
    depth_refine_rounds: int = 2
    """Number of depth-refinement rounds (0 disables refinement)."""
    depth_refine_min_opacity: float = 0.95
    """A rendered depth replaces an invalid prior pixel only where the rendered opacity is at least this."""
    depth_refine_low_confidence: float = 0.1
    """Prior pixels with a confidence below this (or no depth) count as invalid and may be refined."""
    depth_refine_confidence: float = 0.3
    """Confidence given to refined pixels (so they weigh less than measured ones)."""
    pose_refinement: bool = False
    """Learn a se(3) correction of every keyframe pose (the first keyframe's stays fixed)."""
    lr_pose: float = 0.0003
    """Adam learning rate of the pose corrections."""
    pose_refine_start: int = 200
    """Step from which pose corrections are learnt (the field first fits the given poses)."""
    pose_regularisation: float = 0.01
    """Weight of the squared norm of the pose corrections (pulls them towards the front-end's poses)."""
    mixed_precision: bool = True
    """Autocast to float16 on CUDA (ignored on the CPU)."""
    render_chunk: int = 16384
    """Rays rendered at once when rendering whole images."""

    def __post_init__(self) -> None:
        if not self.mode:
            raise ConfigError("trainer.mode must name a model (see stereo_nerf_core.models.MODELS), got ''")
        if self.photometric_loss not in ("l1", "huber"):
            raise ConfigError(f"trainer.photometric_loss must be 'l1' or 'huber', got {self.photometric_loss!r}")
        _check_range("trainer.seed", self.seed, 0, 2**31 - 1)
        _check_range("trainer.time_span_s", self.time_span_s, 0.0, 1e6)
        _check_range("trainer.time_knots", self.time_knots, 2, 4096)
        _check_range("trainer.time_smoothness_weight", self.time_smoothness_weight, 0.0, 1e3)
        _check_range("trainer.buffer_capacity", self.buffer_capacity, 1, 100_000)
        _check_range("trainer.rays_per_batch", self.rays_per_batch, 1, 1_000_000)
        _check_range("trainer.grid_levels", self.grid_levels, 1, 32)
        _check_range("trainer.grid_log2_table_size", self.grid_log2_table_size, 4, 24)
        _check_range("trainer.grid_max_resolution", self.grid_max_resolution, 16, 65_536)
        _check_range("trainer.prior_samples", self.prior_samples, 1, 1024)
        _check_range("trainer.uniform_samples", self.uniform_samples, 1, 1024)
        _check_range("trainer.coarse_samples", self.coarse_samples, 1, 1024)
        _check_range("trainer.occupancy_resolution", self.occupancy_resolution, 0, 512)
        if self.occupancy_resolution == 1:
            raise ConfigError("trainer.occupancy_resolution must be 0 (no grid) or >= 2, got 1")
        _check_range("trainer.occupancy_warmup_steps", self.occupancy_warmup_steps, 0, 100_000_000)
        _check_range("trainer.occupancy_update_period", self.occupancy_update_period, 1, 100_000_000)
        _check_range("trainer.occupancy_threshold", self.occupancy_threshold, 1e-6, 0.999)
        _check_range("trainer.march_candidates", self.march_candidates, 1, 65536)
        _check_range("trainer.march_max_samples", self.march_max_samples, 1, 4096)
        _check_range("trainer.importance_samples", self.importance_samples, 0, 1024)
        _check_range("trainer.mask_guide_sample_rate", self.mask_guide_sample_rate, 0.0, 1.0)
        _check_range("trainer.recency_share", self.recency_share, 0.0, 1.0)
        _check_range("trainer.recency_window", self.recency_window, 1, 100_000)
        _check_range("trainer.huber_delta", self.huber_delta, 1e-6, 1.0)
        _check_range("trainer.depth_loss_weight", self.depth_loss_weight, 0.0, 1e6)
        _check_range("trainer.depth_loss_delta", self.depth_loss_delta, 1e-6, 10.0)
        _check_range("trainer.eikonal_weight", self.eikonal_weight, 0.0, 1e6)
        _check_range("trainer.ssim_weight", self.ssim_weight, 0.0, 1e6)
        _check_range("trainer.ssim_patches", self.ssim_patches, 1, 10_000)
        _check_range("trainer.ssim_patch_px", self.ssim_patch_px, 3, 64)
        if self.ssim_weight > 0 and self.ssim_patches * self.ssim_patch_px**2 > self.rays_per_batch:
            raise ConfigError("trainer.ssim_patches * trainer.ssim_patch_px^2 must not exceed trainer.rays_per_batch")
        _check_range("trainer.opacity_weight", self.opacity_weight, 0.0, 1e6)
        _check_range("trainer.surface_photometric_weight", self.surface_photometric_weight, 0.0, 1e6)
        _check_range("trainer.mask_loss_weight", self.mask_loss_weight, 0.0, 1e6)
        _check_range("trainer.distortion_weight", self.distortion_weight, 0.0, 1e6)
        _check_range("trainer.lr_hash", self.lr_hash, 0.0, 10.0)
        _check_range("trainer.lr_network", self.lr_network, 0.0, 10.0)
        _check_range("trainer.lr_decay_steps", self.lr_decay_steps, 0, 100_000_000)
        _check_range("trainer.bounds_padding", self.bounds_padding, 0.0, 10.0)
        _check_range("trainer.depth_refine_start", self.depth_refine_start, 0, 100_000_000)
        _check_range("trainer.depth_refine_period", self.depth_refine_period, 1, 100_000_000)
        _check_range("trainer.depth_refine_rounds", self.depth_refine_rounds, 0, 100_000)
        _check_range("trainer.depth_refine_min_opacity", self.depth_refine_min_opacity, 0.0, 1.0)
        _check_range("trainer.depth_refine_low_confidence", self.depth_refine_low_confidence, 0.0, 1.0)
        _check_range("trainer.depth_refine_confidence", self.depth_refine_confidence, 0.0, 1.0)
        _check_range("trainer.lr_pose", self.lr_pose, 0.0, 10.0)
        _check_range("trainer.pose_refine_start", self.pose_refine_start, 0, 100_000_000)
        _check_range("trainer.pose_regularisation", self.pose_regularisation, 0.0, 1e6)
        _check_range("trainer.render_chunk", self.render_chunk, 1, 10_000_000)


@dataclass(frozen=True)
class PoseFreeConfig:
    """Pose-free reconstruction (NoPe-NeRF line): poses from the priors (stage 1), then jointly with the field."""

    initial_poses: str = "identity"
    """Start of the poses: "identity" (every frame at the first one's pose) or "odometry" (the poses the frames
    carry: the bag's /tf for the pose-free CLI)."""
    iterations: int = 200
    """Stage 1: Adam iterations over all frame pairs (the learning rate falls 10x over them)."""
    learning_rate: float = 0.003
    """Stage 1: Adam learning rate of the relative poses (translation in units of the median prior depth) and
    of the priors' log-scale and shift."""
    max_pair_offset: int = 2
    """Stage 1: frames i - k and i are compared for k = 1 .. this (1: consecutive frames only)."""
    chamfer_points: int = 512
    """Stage 1: prior points per frame in the chamfer loss (nearest neighbours by brute force)."""
    chamfer_weight: float = 1.0
    """Stage 1: weight of the chamfer loss (distances in units of the median prior depth)."""
    chamfer_iterations: int = 100
    """Stage 1: the chamfer loss drives only the first this many iterations (a coarse term: its nearest
    neighbours among sparse points are about a point spacing apart); the photometric loss refines after."""
    photometric_points: int = 4096
    """Stage 1: pixels per frame warped into the other frame of a pair through their prior depth."""
    photometric_weight: float = 1.0
    """Stage 1: weight of the photometric surface loss (mean absolute RGB difference in [0, 1])."""
    blur_sigma_px: float = 1.0
    """Stage 1: Gaussian blur of the images before warping, in pixels (widens the basin; 0: none)."""
    min_confidence: float = 0.5
    """Stage 1: prior pixels with a lower confidence (e.g. hole-filled ones) are not used."""
    learn_depth_scale: bool = True
    """Stage 1: learn a depth scale and shift per prior (the first frame's stay 1 and 0)."""
    scale_regularisation: float = 100.0
    """Stage 1: weight of the mean squared log-scale and shift (in units of the median depth): stereo priors are
    metric, so they stay near scale 1, shift 0."""
    seed: int = 0
    """Seed of the stage-1 pixel sampling (stage 2 uses trainer.seed)."""
    field_steps: int = 600
    """Stage 2: trainer steps training the field with pose refinement from the stage-1 poses (0: stage 1 only)."""
    field_lr_pose: float = 0.00003
    """Stage 2: the trainer's lr_pose during pose-free runs (its default 3e-4 jitters the poses of many keyframes
    sharing a small ray batch: one-frame RPE 0.03 -> 0.22 mm on the sample bag; 3e-5 keeps 0.05 mm)."""
    field_surface_photometric_weight: float = 0.1
    """Stage 2: the trainer's surface_photometric_weight during pose-free runs (rendered surfaces warped into the
    neighbouring keyframe)."""

    def __post_init__(self) -> None:
        if self.initial_poses not in ("identity", "odometry"):
            raise ConfigError(
                f"pose_free.initial_poses must be 'identity' or 'odometry', got {self.initial_poses!r}"
            )
        _check_range("pose_free.iterations", self.iterations, 0, 1_000_000)
        _check_range("pose_free.learning_rate", self.learning_rate, 0.0, 10.0)
        _check_range("pose_free.max_pair_offset", self.max_pair_offset, 1, 100)
        _check_range("pose_free.chamfer_points", self.chamfer_points, 1, 1_000_000)
        _check_range("pose_free.chamfer_weight", self.chamfer_weight, 0.0, 1e6)
        _check_range("pose_free.chamfer_iterations", self.chamfer_iterations, 0, 1_000_000)
        _check_range("pose_free.photometric_points", self.photometric_points, 1, 10_000_000)
        _check_range("pose_free.photometric_weight", self.photometric_weight, 0.0, 1e6)
        _check_range("pose_free.blur_sigma_px", self.blur_sigma_px, 0.0, 100.0)
        _check_range("pose_free.min_confidence", self.min_confidence, 0.0, 1.0)
        _check_range("pose_free.scale_regularisation", self.scale_regularisation, 0.0, 1e6)
        _check_range("pose_free.seed", self.seed, 0, 2**31 - 1)
        _check_range("pose_free.field_steps", self.field_steps, 0, 100_000_000)
        _check_range("pose_free.field_lr_pose", self.field_lr_pose, 0.0, 10.0)
        _check_range(
            "pose_free.field_surface_photometric_weight", self.field_surface_photometric_weight, 0.0, 1e6
        )


SELF_SUPERVISED_POSE_SOURCES = ("none", "odometry", "tf", "ground_truth")


@dataclass(frozen=True)
class SelfSupervisedConfig:
    """Training the self-supervised depth network (depth_prior.backend "self_supervised") from a stereo stream."""

    downscale: int = 2
    """The network sees the rectified left image shrunk by this factor (1, 2 or 4); its depth is upsampled back."""
    base_channels: int = 8
    """Channels of the network's first layer; they double at each of its four downsamplings (at most 8x)."""
    learning_rate: float = 0.0003
    """Adam learning rate of the network (1e-3 can drive the sigmoid into saturation, where the auto-mask stops it)."""
    batch_size: int = 4
    """Target frames per training step."""
    ssim_alpha: float = 0.85
    """Reprojection error: ssim_alpha * (1 - SSIM) / 2 + (1 - ssim_alpha) * L1 (Monodepth2: 0.85)."""
    smoothness_weight: float = 0.02
    """Weight of the edge-aware smoothness of the mean-normalised disparity (Monodepth2: 0.001; smooth tissue
    takes more: fewer matching-noise artefacts)."""
    temporal_sources: bool = True
    """Also synthesise each frame from its stream neighbours through their poses (frames with a pose only)."""
    pose_source: str = "tf"
    """Poses of the temporal sources: "tf" (world -> left optical frame), "ground_truth" (oracle), "odometry"
    (stereo visual odometry on the SGBM prior) or "none" (left-right view synthesis only)."""
    automask: bool = True
    """Monodepth2 auto-mask: drop pixels whose error without warping is below the warped one (static pixels)."""
    buffer_capacity: int = 64
    """Frames kept for training; the oldest is dropped beyond this."""
    seed: int = 0
    """Seed of the network's initialisation and of the frame sampling."""

    def __post_init__(self) -> None:
        if self.downscale not in (1, 2, 4):
            raise ConfigError(f"self_supervised.downscale must be 1, 2 or 4, got {self.downscale}")
        if self.pose_source not in SELF_SUPERVISED_POSE_SOURCES:
            raise ConfigError(
                f"self_supervised.pose_source must be one of {SELF_SUPERVISED_POSE_SOURCES}, got {self.pose_source!r}"
            )
        _check_range("self_supervised.base_channels", self.base_channels, 1, 256)
        _check_range("self_supervised.learning_rate", self.learning_rate, 0.0, 10.0)
        _check_range("self_supervised.batch_size", self.batch_size, 1, 1024)
        _check_range("self_supervised.ssim_alpha", self.ssim_alpha, 0.0, 1.0)
        _check_range("self_supervised.smoothness_weight", self.smoothness_weight, 0.0, 1e6)
        _check_range("self_supervised.buffer_capacity", self.buffer_capacity, 1, 100_000)
        _check_range("self_supervised.seed", self.seed, 0, 2**31 - 1)
