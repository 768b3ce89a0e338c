"""Typed pipeline configuration, read from the ROS 2 parameter YAML shared with the nodes.

The YAML has one ``/**: ros__parameters:`` section whose groups (``sync``, ``depth_prior``, ...)
map onto the dataclasses below; a node declares the same names as ``group.field`` parameters.
Every field has a docstring; unknown or mistyped keys raise :class:`ConfigError` naming them.
The learning groups (``trainer``, ``pose_free``, ``self_supervised``) live in
:mod:`stereo_nerf_core.learning_config` and are re-exported here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_origin, get_type_hints

import yaml

from stereo_nerf_core.config_checks import check_range as _check_range
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.learning_config import (
    SELF_SUPERVISED_POSE_SOURCES,
    PoseFreeConfig,
    SelfSupervisedConfig,
    TrainerConfig,
)


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
    threads: int = 0
    """OpenCV threads of the live depth_prior node (0: the cores its front-end peers, stereo_frontend and tracker,
    leave; at least 1): the latency-critical stage of the live graph."""
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
        _check_range("depth_prior.threads", self.threads, 0, 1024)
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

    methods: list[str] = field(default_factory=lambda: ["nearest_frame", "stereo_prior", "tsdf_fusion", "nerf", "sdf"])
    """Methods run and scored, in report order (see pipeline/methods.py; the baselines nearest_frame and
    stereo_prior are always scored, first)."""
    held_out_every: int = 8
    """Frames 0, N, 2N, ... are held out (not fused, not trained on; rendered as novel views); 0: none.
    A bag whose metadata carries a test list (studies importer) uses that list instead."""
    keyframe_every: int = 2
    """The trainer methods take every this-th frame (by index) that is not held out as a keyframe."""
    train_downscale: int = 2
    """Trainer keyframes are resampled by 1 / this (block means); renders are scored on the full grid."""
    train_steps: int = 3000
    """Training steps of each trainer method, spread over the replay as keyframes arrive."""
    train_seconds: float = 240.0
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
    """"odometry" (stereo visual odometry), "tf" (the robot's tf tree: the chain from world_frame to
    camera_frame composed from /tf and /tf_static) or "ground_truth" (the bag's /ground_truth/pose: an oracle
    for experiments)."""
    world_frame: str = "world"
    """The fixed frame poses are given in (the root of the chain looked up with pose_source tf)."""
    camera_frame: str = ""
    """pose_source tf: the tf frame of the left camera (empty: the left raw image's frame_id)."""
    tf_timeout_s: float = 0.2
    """pose_source tf or ground_truth: how long, in seconds, the tracker waits for a pose that has not arrived yet."""
    prior_timeout_s: float = 2.0
    """pose_source odometry: how long, in seconds, the tracker waits for a would-be keyframe's depth prior (it
    stops waiting as soon as a later frame's prior comes: depth_prior skipped this one); without it the frame
    is tracked but does not become a keyframe."""

    def __post_init__(self) -> None:
        if self.pose_source not in POSE_SOURCES:
            raise ConfigError(f"tracking.pose_source must be one of {POSE_SOURCES}, got {self.pose_source!r}")
        if not self.world_frame:
            raise ConfigError("tracking.world_frame must not be empty")
        _check_range("tracking.tf_timeout_s", self.tf_timeout_s, 0.0, 60.0)
        _check_range("tracking.prior_timeout_s", self.prior_timeout_s, 0.0, 60.0)


@dataclass(frozen=True)
class NodesConfig:
    """How the ROS 2 nodes (and the offline stage graph) queue inputs and pace their outputs."""

    compressed_input: bool = False
    """stereo_frontend subscribes to sensor_msgs/CompressedImage on "<image topic>/compressed" (jpeg or png)
    instead of sensor_msgs/Image."""
    queue_size: int = 4
    """Input sets stereo_frontend, depth_prior and the matcher keep waiting; beyond it the oldest is dropped and
    counted (backpressure: latency stays bounded; a hiccup of up to this many frames is absorbed)."""
    cv_threads: int = 1
    """OpenCV worker threads of every node but depth_prior (0: one per core; depth_prior.threads sets its own).
    The nodes already run in parallel, one process each; more threads per node only contend for the cores."""
    background_niceness: int = 10
    """Niceness (0-19) the matcher and the trainer run at: they get the CPU the front-end (stereo_frontend,
    depth_prior, tracker) leaves, never the reverse. 0: same priority as the front-end."""
    background_idle: bool = True
    """The matcher's worker and the trainer's training loop also use the SCHED_IDLE policy: they run only on a
    core the front-end leaves idle (Linux; on a GPU cart the front-end leaves most cores idle). Their executor
    and DDS threads stay at ``background_niceness``, so they keep receiving."""
    frame_cache: int = 30
    """Recent depth_prior frames the trainer keeps until the tracker says whether each is a keyframe."""
    path_max_poses: int = 2000
    """Most poses in the tracker's nav_msgs/Path. It spans the whole trajectory: when it is full, every other
    pose is dropped (the newest kept), so memory and the cost of each publish stay bounded for hours (rclpy
    takes about 16 ms per 1000 poses to publish one)."""
    path_rate_hz: float = 1.0
    """Largest rate, in Hz, of the tracker's nav_msgs/Path (by frame stamps; 0: off). The whole path goes out each
    time, so publishing it with every frame would cost more than tracking after a few thousand poses."""
    render_rate_hz: float = 2.0
    """Largest rate, in Hz, of the trainer's rendered depth and colour of the latest frame (0: off)."""
    render_downscale: int = 4
    """The trainer renders the latest frame at 1 / this of the image size (1: full size; a render of 1/4 size
    takes 0.2 s on a 2-core CPU, 1/2 size 1.1 s)."""
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
    working directory); a (re)started trainer resumes from it."""
    checkpoint_period_s: float = 60.0
    """Seconds between the trainer's automatic checkpoints to checkpoint_path (0: only when asked)."""
    mesh_path: str = "stereo_nerf_mesh.ply"
    """PLY file the trainer's write_mesh service writes (relative: to the node's working directory)."""

    def __post_init__(self) -> None:
        _check_range("nodes.queue_size", self.queue_size, 1, 10_000)
        _check_range("nodes.checkpoint_period_s", self.checkpoint_period_s, 0.0, 86_400.0)
        _check_range("nodes.background_niceness", self.background_niceness, 0, 19)
        _check_range("nodes.cv_threads", self.cv_threads, 0, 1024)
        _check_range("nodes.frame_cache", self.frame_cache, 1, 10_000)
        _check_range("nodes.path_max_poses", self.path_max_poses, 2, 100_000)
        _check_range("nodes.path_rate_hz", self.path_rate_hz, 0.0, 1000.0)
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


__all__ = [
    "SELF_SUPERVISED_POSE_SOURCES",
    "PipelineConfig",
    "PoseFreeConfig",
    "SelfSupervisedConfig",
    "TrainerConfig",
    "config_from_parameters",
    "flatten_parameters",
    "load_config",
    "parameter_descriptions",
]
