"""Typed pipeline configuration, read from the ROS 2 parameter YAML shared with the nodes.

The YAML has one ``/**: ros__parameters:`` section whose groups (``sync``, ``depth_prior``, ...)
map onto the dataclasses below; a node declares the same names as ``group.field`` parameters.
Every field has a docstring; unknown or mistyped keys raise :class:`ConfigError` naming them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_origin, get_type_hints

import yaml

from stereo_nerf_core.errors import ConfigError


@dataclass(frozen=True)
class SyncConfig:
    """Approximate-time pairing of left and right images (message_filters' policy)."""

    slop_s: float = 0.005
    """Largest stamp difference, in seconds, between a left and a right image of one pair."""
    queue_size: int = 10
    """Images kept per camera while waiting for a partner; older ones are dropped and counted."""

    def __post_init__(self) -> None:
        _check_range("sync.slop_s", self.slop_s, 0.0, 1.0)
        _check_range("sync.queue_size", self.queue_size, 1, 10_000)


@dataclass(frozen=True)
class DepthPriorConfig:
    """Dense stereo depth prior: the backend and its parameters."""

    backend: str = "sgbm"
    """Prior backend: "sgbm" (semi-global matching, row alignment, left-right check, hole filling, sub-pixel
    refinement), "seeded" (grown from sparse SIFT matches by NCC), "torchscript" (a network, model_path) or
    "self_supervised" (the monocular network trained from the stream, self_supervised_weights_path)."""
    min_depth_m: float = 0.02
    """Nearest depth searched, in metres; sets the disparity range."""
    max_depth_m: float = 0.30
    """Farthest depth kept, in metres."""
    block_size: int = 5
    """SGBM matching block size in pixels (odd)."""
    uniqueness_ratio: int = 5
    """SGBM uniqueness margin in percent."""
    lr_max_diff_px: float = 1.0
    """Largest left-right disparity disagreement, in pixels, for a pixel to be kept."""
    speckle_window: int = 100
    """Largest speckle (connected disparity blob) size, in pixels, that is removed; 0 disables."""
    speckle_range: int = 2
    """Disparity variation within a speckle blob, in pixels."""
    subpixel_refinement: bool = True
    """Refine SGBM's disparities with Gauss-Newton steps on the photometric error (removes pixel locking)."""
    sgbm_downscale: int = 2
    """SGBM matches the pair downscaled by this factor (1: full resolution, 2, 4); refinement runs at full size."""
    vertical_correction: bool = True
    """Estimate the rows' residual misalignment from sparse matches on each pair and remove it before matching."""
    max_vertical_offset_px: float = 8.0
    """Refuse a pair whose sparse matches' median |y_left - y_right| exceeds this (px): not rectified; 0 disables."""
    refine_extrinsics: bool = True
    """sgbm backend: measure the right camera's residual roll from the sparse matches and warp the right image by the
    corrective rotation (kept across a stream's frames), which removes the disparity tilt a roll leaves."""
    extrinsics_min_shift_px: float = 0.5
    """refine_extrinsics: a roll is applied only when it shifts the top or bottom row horizontally by at least this
    many pixels (and by more than 3 standard deviations)."""
    fill_holes: bool = True
    """Fill pixels without a reliable match by image-guided interpolation (marked filled, lower confidence)."""
    filled_confidence: float = 0.3
    """Confidence of a filled pixel next to a match; it halves every 7 px further away."""
    fill_max_spread_px: float = 3.0
    """A hole pixel is filled only where the matched disparities its fill averages agree within this (their weighted
    standard deviation, px): fills across depth edges or conflicting matches stay empty. 0: no limit."""
    seed_search_px: int = 3
    """seeded backend: disparity search around the interpolated sparse seeds, +- this many pixels."""
    seed_min_ncc: float = 0.5
    """seeded backend: smallest 7x7 normalised cross-correlation for a pixel to join the grown region."""
    model_path: str = ""
    """torchscript backend: TorchScript stereo network ((1,3,H,W) left, right in [0, 1] -> (1,1,H,W) disparity px)."""
    device: str = "auto"
    """torchscript and self_supervised backends: torch device, "auto" (CUDA when available, else CPU), "cpu", "cuda"."""
    self_supervised_weights_path: str = ""
    """self_supervised backend: weights file written by ``stereo-nerf train-self-supervised`` (a torch file)."""

    def __post_init__(self) -> None:
        _check_range("depth_prior.min_depth_m", self.min_depth_m, 1e-4, 1000.0)
        _check_range("depth_prior.max_depth_m", self.max_depth_m, self.min_depth_m, 1000.0)
        _check_range("depth_prior.block_size", self.block_size, 1, 31)
        if self.block_size % 2 == 0:
            raise ConfigError(f"depth_prior.block_size must be odd, got {self.block_size}")
        _check_range("depth_prior.uniqueness_ratio", self.uniqueness_ratio, 0, 100)
        _check_range("depth_prior.lr_max_diff_px", self.lr_max_diff_px, 0.0, 100.0)
        _check_range("depth_prior.speckle_window", self.speckle_window, 0, 100_000)
        _check_range("depth_prior.speckle_range", self.speckle_range, 0, 100)
        if self.sgbm_downscale not in (1, 2, 4):
            raise ConfigError(f"depth_prior.sgbm_downscale must be 1, 2 or 4, got {self.sgbm_downscale}")
        _check_range("depth_prior.max_vertical_offset_px", self.max_vertical_offset_px, 0.0, 1000.0)
        _check_range("depth_prior.filled_confidence", self.filled_confidence, 0.0, 1.0)
        _check_range("depth_prior.fill_max_spread_px", self.fill_max_spread_px, 0.0, 1000.0)
        _check_range("depth_prior.extrinsics_min_shift_px", self.extrinsics_min_shift_px, 0.0, 1000.0)
        _check_range("depth_prior.seed_search_px", self.seed_search_px, 1, 16)
        _check_range("depth_prior.seed_min_ncc", self.seed_min_ncc, -1.0, 1.0)
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"depth_prior.device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")


@dataclass(frozen=True)
class FusionConfig:
    """TSDF fusion of depth priors with known poses (open3d VoxelBlockGrid)."""

    voxel_size_m: float = 0.0005
    """TSDF voxel edge in metres."""
    sdf_trunc_m: float = 0.003
    """Truncation distance of the signed distance, in metres."""
    max_depth_m: float = 0.20
    """Depths beyond this, in metres, are not fused."""
    mask_instruments: bool = True
    """Leave instrument pixels (from the instrument mask topic) out of the fusion."""
    matched_only: bool = True
    """Fuse only matched prior pixels, not hole-filled ones (other views fill those holes with real matches)."""
    min_weight: float = 5.0
    """Observations a voxel needs before its zero level becomes surface."""
    cull_min_views: int = 1
    """Keep only triangles that at least this many fused cameras see first (0 keeps everything)."""
    block_count: int = 1000
    """Initial capacity of the voxel-block hash map (blocks of 16^3 voxels, 80 kB each); it grows when needed."""
    device: str = "auto"
    """open3d device of the grid: "auto" (CUDA:0 when open3d has CUDA, else CPU:0), "CPU:0" or "CUDA:0"."""

    def __post_init__(self) -> None:
        _check_range("fusion.voxel_size_m", self.voxel_size_m, 1e-5, 0.1)
        _check_range("fusion.sdf_trunc_m", self.sdf_trunc_m, self.voxel_size_m, 1.0)
        _check_range("fusion.max_depth_m", self.max_depth_m, 1e-3, 10.0)
        _check_range("fusion.min_weight", self.min_weight, 0.0, 1e6)
        _check_range("fusion.cull_min_views", self.cull_min_views, 0, 1_000_000)
        _check_range("fusion.block_count", self.block_count, 16, 10_000_000)
        if self.device != "auto" and not self.device.upper().startswith(("CPU:", "CUDA:")):
            raise ConfigError(f"fusion.device must be 'auto', 'CPU:N' or 'CUDA:N', got {self.device!r}")


@dataclass(frozen=True)
class EvaluationConfig:
    """Evaluation protocol against ground truth, when the input has it."""

    min_depth_m: float = 0.001
    """Ground-truth depths at or below this, in metres, are ignored."""
    max_depth_m: float = 0.30
    """Depth cap in metres: ground truth beyond it is ignored, predictions are clipped to it."""
    median_scaling: bool = False
    """Scale predictions by the median ratio before scoring (off: stereo depth is metric)."""
    figure_frames: int = 2
    """Number of frames, evenly spread, drawn as depth comparison figures."""

    def __post_init__(self) -> None:
        _check_range("evaluation.max_depth_m", self.max_depth_m, self.min_depth_m, 100.0)
        _check_range("evaluation.figure_frames", self.figure_frames, 0, 100)


@dataclass(frozen=True)
class ReplayConfig:
    """Offline replay: the methods compared in one run, held-out views and the trainer methods' budget."""

    methods: list[str] = field(default_factory=lambda: ["stereo_prior", "tsdf_fusion", "nerf", "sdf"])
    """Methods run and scored, in report order (stereo_prior, tsdf_fusion, nerf, sdf; see pipeline/methods.py)."""
    held_out_every: int = 8
    """Frames 0, N, 2N, ... are held out (not fused, not trained on; rendered as novel views); 0: none.
    A bag whose metadata carries a test list (studies importer) uses that list instead."""
    keyframe_every: int = 2
    """The trainer methods take every this-th frame (by index) that is not held out as a keyframe."""
    train_downscale: int = 2
    """Trainer keyframes are resampled by 1 / this (block means); renders are scored on the full grid."""
    train_steps: int = 300
    """Training steps of each trainer method, spread over the replay as keyframes arrive."""
    train_seconds: float = 120.0
    """Most training seconds of each trainer method (whichever of steps and seconds runs out first)."""
    mesh_resolution: int = 128
    """Marching-cubes cells along the longest side of the scene box for the trainer methods' meshes."""
    timeline_every: int = 22
    """Metrics over time: every method is scored after every this many frames (0: only at the end)."""
    turntable_views: int = 6
    """Views of each method's mesh in the turntable figure (0: no turntable)."""

    def __post_init__(self) -> None:
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ConfigError(f"replay.methods must name at least one method, each once, got {self.methods!r}")
        if not all(isinstance(name, str) for name in self.methods):
            raise ConfigError(f"replay.methods must be a list of method names (strings), got {self.methods!r}")
        _check_range("replay.held_out_every", self.held_out_every, 0, 1_000_000)
        _check_range("replay.keyframe_every", self.keyframe_every, 1, 1_000_000)
        _check_range("replay.train_downscale", self.train_downscale, 1, 16)
        _check_range("replay.train_steps", self.train_steps, 0, 100_000_000)
        _check_range("replay.train_seconds", self.train_seconds, 0.0, 1e9)
        _check_range("replay.mesh_resolution", self.mesh_resolution, 8, 1024)
        _check_range("replay.timeline_every", self.timeline_every, 0, 1_000_000)
        _check_range("replay.turntable_views", self.turntable_views, 0, 64)


@dataclass(frozen=True)
class MatchingConfig:
    """Sparse feature matching: left-right on the rectified pair and frame to keyframe."""

    method: str = "sift"
    """Detector/matcher: "sift" (OpenCV SIFT, ratio test) or "disk_lightglue" (needs learned_weights_path)."""
    max_features: int = 2000
    """Most features detected per image (strongest first); 0 keeps all."""
    ratio: float = 0.8
    """Lowe's ratio test: keep a match when best distance < ratio * second-best distance."""
    mutual_check: bool = True
    """Keep only matches that are each other's best match in both directions."""
    min_confidence: float = 0.3
    """Matches with a lower confidence (in [0, 1]; SIFT: 1 - best / second-best distance) are dropped."""
    sift_contrast_threshold: float = 0.02
    """SIFT's contrast threshold (OpenCV default 0.04 finds ~8x fewer features on low-contrast endoscopy)."""
    subpixel_window_px: int = 11
    """Refine stereo matches' right positions with Lucas-Kanade in a window of this side (px, odd); 0 disables."""
    max_epipolar_px: float = 1.0
    """Largest row difference |y_left - y_right|, in pixels, of a match on the rectified pair."""
    min_depth_m: float = 0.02
    """Stereo matches nearer than this, in metres, are dropped (largest disparity)."""
    max_depth_m: float = 0.30
    """Stereo matches farther than this, in metres, are dropped (smallest positive disparity)."""
    learned_weights_path: str = ""
    """Torch file with {"disk": DISK state_dict, "lightglue": LightGlue state_dict} for method disk_lightglue."""
    learned_device: str = "cpu"
    """torch device of the learned matcher: "cpu" or "cuda" (when torch has CUDA)."""

    def __post_init__(self) -> None:
        if self.method not in ("sift", "disk_lightglue"):
            raise ConfigError(f"matching.method must be 'sift' or 'disk_lightglue', got {self.method!r}")
        _check_range("matching.max_features", self.max_features, 0, 1_000_000)
        _check_range("matching.ratio", self.ratio, 0.01, 1.0)
        _check_range("matching.min_confidence", self.min_confidence, 0.0, 1.0)
        _check_range("matching.sift_contrast_threshold", self.sift_contrast_threshold, 0.0, 1.0)
        _check_range("matching.subpixel_window_px", self.subpixel_window_px, 0, 101)
        if self.subpixel_window_px and self.subpixel_window_px % 2 == 0:
            raise ConfigError(f"matching.subpixel_window_px must be odd or 0, got {self.subpixel_window_px}")
        _check_range("matching.max_epipolar_px", self.max_epipolar_px, 0.0, 100.0)
        _check_range("matching.min_depth_m", self.min_depth_m, 1e-4, 1000.0)
        _check_range("matching.max_depth_m", self.max_depth_m, self.min_depth_m, 1000.0)
        if not self.learned_device.lower().startswith(("cpu", "cuda")):
            raise ConfigError(f"matching.learned_device must be 'cpu' or 'cuda[:N]', got {self.learned_device!r}")


@dataclass(frozen=True)
class OdometryConfig:
    """Stereo visual odometry (used when the input has no poses): frame-to-keyframe tracking + PnP."""

    tracker: str = "klt"
    """Feature tracking: "klt" (Shi-Tomasi corners + pyramidal Lucas-Kanade) or "sift" (SIFT matching)."""
    max_features: int = 500
    """Features detected on each keyframe (outside instruments, where the depth prior has depth)."""
    min_feature_distance_px: float = 7.0
    """Smallest distance between two keyframe corners, in pixels (klt)."""
    klt_window_px: int = 21
    """Lucas-Kanade window side in pixels (klt, odd)."""
    klt_levels: int = 3
    """Pyramid levels above the full image for Lucas-Kanade (klt)."""
    max_forward_backward_px: float = 0.3
    """Largest forward-backward Lucas-Kanade disagreement, in pixels, for a track to be kept (klt; 0 disables)."""
    ransac_reprojection_px: float = 1.0
    """PnP RANSAC inlier threshold on the reprojection error, in pixels."""
    ransac_iterations: int = 100
    """Most PnP RANSAC iterations per frame."""
    min_inliers: int = 20
    """Fewer PnP inliers than this mark the frame as tracking lost (its pose is the last good one)."""
    max_reprojection_px: float = 1.5
    """A mean inlier reprojection error above this, in pixels, also marks tracking lost."""

    def __post_init__(self) -> None:
        if self.tracker not in ("klt", "sift"):
            raise ConfigError(f"odometry.tracker must be 'klt' or 'sift', got {self.tracker!r}")
        _check_range("odometry.max_features", self.max_features, 4, 100_000)
        _check_range("odometry.min_feature_distance_px", self.min_feature_distance_px, 0.0, 1000.0)
        _check_range("odometry.klt_window_px", self.klt_window_px, 3, 101)
        if self.klt_window_px % 2 == 0:
            raise ConfigError(f"odometry.klt_window_px must be odd, got {self.klt_window_px}")
        _check_range("odometry.klt_levels", self.klt_levels, 0, 8)
        _check_range("odometry.max_forward_backward_px", self.max_forward_backward_px, 0.0, 100.0)
        _check_range("odometry.ransac_reprojection_px", self.ransac_reprojection_px, 0.01, 100.0)
        _check_range("odometry.ransac_iterations", self.ransac_iterations, 1, 100_000)
        _check_range("odometry.min_inliers", self.min_inliers, 4, 100_000)
        _check_range("odometry.max_reprojection_px", self.max_reprojection_px, 0.01, 100.0)


@dataclass(frozen=True)
class KeyframeConfig:
    """Keyframe selection (motion and overlap thresholds, blur rejection) and the keyframe buffer."""

    min_translation_m: float = 0.003
    """A frame this far, in metres, from the last keyframe becomes a keyframe."""
    min_rotation_deg: float = 3.0
    """A frame rotated this much, in degrees, from the last keyframe becomes a keyframe."""
    min_overlap: float = 0.6
    """A frame whose overlap with the last keyframe (share of its features tracked) falls below this becomes one."""
    blur_relative_threshold: float = 0.5
    """A frame is blurred when its sharpness (variance of the Laplacian) is below this share of the recent median."""
    blur_absolute_threshold: float = 0.0
    """A frame is blurred when its sharpness (variance of the Laplacian, grey levels^2) is below this; 0 disables."""
    blur_history: int = 10
    """Recent frames whose median sharpness the relative blur test compares with."""
    buffer_capacity: int = 30
    """Keyframes kept in the buffer; the oldest is dropped beyond it."""

    def __post_init__(self) -> None:
        _check_range("keyframes.min_translation_m", self.min_translation_m, 0.0, 100.0)
        _check_range("keyframes.min_rotation_deg", self.min_rotation_deg, 0.0, 180.0)
        _check_range("keyframes.min_overlap", self.min_overlap, 0.0, 1.0)
        _check_range("keyframes.blur_relative_threshold", self.blur_relative_threshold, 0.0, 1.0)
        _check_range("keyframes.blur_absolute_threshold", self.blur_absolute_threshold, 0.0, 1e9)
        _check_range("keyframes.blur_history", self.blur_history, 1, 10_000)
        _check_range("keyframes.buffer_capacity", self.buffer_capacity, 1, 1_000_000)


POSE_SOURCES = ("odometry", "tf", "ground_truth")


@dataclass(frozen=True)
class TrackingConfig:
    """Where camera poses come from."""

    pose_source: str = "odometry"
    """"odometry" (stereo visual odometry), "tf" (world -> left optical frame on /tf, e.g. robot
    kinematics) or "ground_truth" (the bag's /ground_truth/pose: an oracle for experiments)."""

    def __post_init__(self) -> None:
        if self.pose_source not in POSE_SOURCES:
            raise ConfigError(f"tracking.pose_source must be one of {POSE_SOURCES}, got {self.pose_source!r}")


@dataclass(frozen=True)
class TrainerConfig:
    """Online training of the neural field (NeRF or NeuS SDF) from the keyframe buffer."""

    mode: str = "nerf"
    """Field type: "nerf" (density) or "sdf" (NeuS signed distance with eikonal loss)."""
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
        if self.mode not in ("nerf", "sdf"):
            raise ConfigError(f"trainer.mode must be 'nerf' or 'sdf', got {self.mode!r}")
        if self.photometric_loss not in ("l1", "huber"):
            raise ConfigError(f"trainer.photometric_loss must be 'l1' or 'huber', got {self.photometric_loss!r}")
        _check_range("trainer.seed", self.seed, 0, 2**31 - 1)
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


@dataclass(frozen=True)
class NodesConfig:
    """How the ROS 2 nodes (and the offline stage graph) queue inputs and pace their outputs."""

    compressed_input: bool = False
    """stereo_frontend and depth_prior subscribe to sensor_msgs/CompressedImage on "<image topic>/compressed"
    (jpeg or png) instead of sensor_msgs/Image."""
    queue_size: int = 2
    """Input sets each node keeps waiting; beyond it the oldest is dropped and counted (backpressure)."""
    frame_cache: int = 30
    """Recent depth_prior frames the trainer keeps until the tracker says whether each is a keyframe."""
    path_max_poses: int = 10000
    """Poses kept in the tracker's nav_msgs/Path; the oldest are dropped beyond it."""
    render_rate_hz: float = 2.0
    """Largest rate, in Hz, of the trainer's rendered depth and colour of the latest frame (0: off)."""
    render_downscale: int = 2
    """The trainer renders the latest frame at 1 / this of the image size (1: full size)."""
    cloud_rate_hz: float = 0.5
    """Largest rate, in Hz, of the trainer's coloured point cloud and refined path (0: off)."""
    cloud_keyframes: int = 8
    """The newest keyframes rendered into the point cloud."""
    cloud_downscale: int = 4
    """Keyframes are rendered for the cloud at 1 / this of their size."""
    cloud_min_opacity: float = 0.5
    """Rendered pixels below this opacity are left out of the point cloud."""
    mesh_rate_hz: float = 0.1
    """Largest rate, in Hz, of the trainer's mesh marker (marching cubes, costly; 0: off)."""
    mesh_resolution: int = 96
    """Marching-cubes cells along the longest side of the scene box (mesh marker and write_mesh)."""
    checkpoint_path: str = "stereo_nerf_checkpoint.pt"
    """File the trainer's save_checkpoint / load_checkpoint services write and read (relative: to the node's
    working directory)."""
    mesh_path: str = "stereo_nerf_mesh.ply"
    """PLY file the trainer's write_mesh service writes (relative: to the node's working directory)."""

    def __post_init__(self) -> None:
        _check_range("nodes.queue_size", self.queue_size, 1, 10_000)
        _check_range("nodes.frame_cache", self.frame_cache, 1, 10_000)
        _check_range("nodes.path_max_poses", self.path_max_poses, 1, 10_000_000)
        _check_range("nodes.render_rate_hz", self.render_rate_hz, 0.0, 1000.0)
        _check_range("nodes.render_downscale", self.render_downscale, 1, 64)
        _check_range("nodes.cloud_rate_hz", self.cloud_rate_hz, 0.0, 1000.0)
        _check_range("nodes.cloud_keyframes", self.cloud_keyframes, 1, 10_000)
        _check_range("nodes.cloud_downscale", self.cloud_downscale, 1, 64)
        _check_range("nodes.cloud_min_opacity", self.cloud_min_opacity, 0.0, 1.0)
        _check_range("nodes.mesh_rate_hz", self.mesh_rate_hz, 0.0, 1000.0)
        _check_range("nodes.mesh_resolution", self.mesh_resolution, 8, 1024)


@dataclass(frozen=True)
class PipelineConfig:
    """Every stage's parameters; loaded with :func:`load_config`."""

    sync: SyncConfig = field(default_factory=SyncConfig)
    depth_prior: DepthPriorConfig = field(default_factory=DepthPriorConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    odometry: OdometryConfig = field(default_factory=OdometryConfig)
    keyframes: KeyframeConfig = field(default_factory=KeyframeConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    nodes: NodesConfig = field(default_factory=NodesConfig)
    self_supervised: SelfSupervisedConfig = field(default_factory=SelfSupervisedConfig)
    pose_free: PoseFreeConfig = field(default_factory=PoseFreeConfig)


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ConfigError(f"parameter {name} = {value} is out of range [{low}, {high}]")


def _build(cls: type[Any], group: str, values: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown parameter {group}.{key}; known: {sorted(known)}")
        expected = hints[key]
        if get_origin(expected) is list:  # a list of strings (ROS 2 string array)
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f"parameter {group}.{key} must be a list of strings, got {value!r}")
            kwargs[key] = list(value)
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ConfigError(
                f"parameter {group}.{key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
            )
        kwargs[key] = value
    return cls(**kwargs)


def config_from_parameters(parameters: dict[str, Any]) -> PipelineConfig:
    """Build a :class:`PipelineConfig` from ``{group: {name: value}}`` (the ros__parameters dict)."""
    groups = {f.name: get_type_hints(PipelineConfig)[f.name] for f in dataclasses.fields(PipelineConfig)}
    built: dict[str, Any] = {}
    for group, values in parameters.items():
        if group not in groups:
            raise ConfigError(f"unknown parameter group {group!r}; known: {sorted(groups)}")
        if not isinstance(values, dict):
            raise ConfigError(f"parameter group {group!r} must be a mapping, got {type(values).__name__}")
        built[group] = _build(groups[group], group, values)
    return PipelineConfig(**built)


def load_config(path: Path | str) -> PipelineConfig:
    """Read the pipeline YAML (ROS 2 parameter file with a ``/**: ros__parameters:`` section)."""
    file = Path(path)
    try:
        document = yaml.safe_load(file.read_text())
    except FileNotFoundError as error:
        raise ConfigError(f"{file}: config file not found") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}") from error
    try:
        parameters = document["/**"]["ros__parameters"]
    except (TypeError, KeyError) as error:
        raise ConfigError(f"{file}: expected a '/**: ros__parameters:' section") from error
    try:
        return config_from_parameters(parameters or {})
    except ConfigError as error:
        raise ConfigError(f"{file}: {error}") from error


def flatten_parameters(config: PipelineConfig) -> dict[str, Any]:
    """``{"group.name": value}`` of every parameter, as ROS 2 nodes declare them."""
    flat: dict[str, Any] = {}
    for group in dataclasses.fields(config):
        for item in dataclasses.fields(getattr(config, group.name)):
            flat[f"{group.name}.{item.name}"] = getattr(getattr(config, group.name), item.name)
    return flat


def parameter_descriptions(config_cls: type[Any] = PipelineConfig) -> dict[str, str]:
    """``{"group.name": docstring}`` read from the dataclass sources (used for ROS parameter descriptors)."""
    import ast
    import inspect
    import itertools

    descriptions: dict[str, str] = {}
    for group in dataclasses.fields(config_cls):
        cls = get_type_hints(config_cls)[group.name]
        tree = ast.parse(inspect.getsource(cls))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for current, following in itertools.pairwise(body):
            if (
                isinstance(current, ast.AnnAssign)
                and isinstance(current.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
            ):
                descriptions[f"{group.name}.{current.target.id}"] = str(following.value.value)
    return descriptions
