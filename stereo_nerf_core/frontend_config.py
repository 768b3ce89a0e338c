"""Configuration groups of the front-end: ``scene`` (the one depth range), ``sync``, ``depth_prior``,
``matching``, ``odometry``, ``keyframes`` and ``tracking`` (re-exported by :mod:`stereo_nerf_core.config`; each
field declared with ``param``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from stereo_nerf_core.config_checks import check_declared, derived, param
from stereo_nerf_core.config_checks import check_range as _check_range
from stereo_nerf_core.errors import ConfigError


@dataclass(frozen=True)
class SyncConfig:
    """Approximate-time pairing of left and right images (message_filters' policy)."""

    GROUP: ClassVar[str] = "sync"

    slop_s: float = param(
        0.005,
        "Largest stamp difference, in seconds, between a left and a right image of one pair.",
        low=0.0,
        high=1.0,
        unit="s",
    )
    queue_size: int = param(
        10,
        "Images kept per camera while waiting for a partner; older ones are dropped and counted.",
        low=1,
        high=10_000,
    )

    def __post_init__(self) -> None:
        check_declared(self)


@dataclass(frozen=True)
class SceneConfig:
    """The one depth range of the scene: the depth prior's disparity search, the matcher's depth gate and the
    evaluation's cap all read it."""

    GROUP: ClassVar[str] = "scene"

    min_depth_m: float = param(
        0.02,
        "Nearest tissue depth, in metres: sets the prior's disparity search range (largest disparity) and drops "
        "nearer stereo matches.",
        low=1e-4,
        high=1000.0,
        unit="m",
    )
    max_depth_m: float = param(
        0.3,
        "Farthest tissue depth, in metres: prior depths and stereo matches beyond it are dropped; the replay's "
        "evaluation ignores ground truth beyond it and clips predictions to it.",
        low=1e-4,
        high=1000.0,
        unit="m",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        _check_range("scene.max_depth_m", self.max_depth_m, self.min_depth_m, 1000.0)


@dataclass(frozen=True)
class DepthPriorConfig:
    """Dense stereo depth prior: the backend and its parameters."""

    GROUP: ClassVar[str] = "depth_prior"

    backend: str = param(
        "sgbm",
        'Prior backend: "sgbm" (semi-global matching, row alignment, left-right check, hole filling, sub-pixel '
        'refinement), "seeded" (grown from sparse SIFT matches by NCC), "torchscript" (a network, model_path) '
        'or "self_supervised" (the monocular network trained from the stream, self_supervised_weights_path).',
    )
    threads: int = param(
        0,
        "OpenCV threads of the live depth_prior node (0: the cores its front-end peers, stereo_frontend and "
        "tracker, leave; at least 1): the latency-critical stage of the live graph.",
        low=0,
        high=1024,
    )
    min_depth_m: float = derived(0.02, "scene.min_depth_m")
    max_depth_m: float = derived(0.3, "scene.max_depth_m")
    block_size: int = param(5, "SGBM matching block size in pixels (odd).", low=1, high=31, unit="px")
    uniqueness_ratio: int = param(5, "SGBM uniqueness margin in percent.", low=0, high=100, unit="%")
    lr_max_diff_px: float = param(
        1.0,
        "Largest left-right disparity disagreement, in pixels, for a pixel to be kept.",
        low=0.0,
        high=100.0,
        unit="px",
    )
    speckle_window: int = param(
        100,
        "Largest speckle (connected disparity blob) size, in pixels, that is removed; 0 disables.",
        low=0,
        high=100_000,
        unit="px",
    )
    speckle_range: int = param(2, "Disparity variation within a speckle blob, in pixels.", low=0, high=100, unit="px")
    subpixel_refinement: bool = param(
        True, "Refine SGBM's disparities with Gauss-Newton steps on the photometric error (removes pixel locking)."
    )
    sgbm_downscale: int = param(
        2, "SGBM matches the pair downscaled by this factor (1: full resolution, 2, 4); refinement runs at full size."
    )
    vertical_correction: bool = param(
        True, "Estimate the rows' residual misalignment from sparse matches on each pair and remove it before matching."
    )
    max_vertical_offset_px: float = param(
        8.0,
        "Refuse a pair whose sparse matches' median |y_left - y_right| exceeds this (px): not rectified; 0 disables.",
        low=0.0,
        high=1000.0,
        unit="px",
    )
    refine_extrinsics: bool = param(
        True,
        "sgbm backend: measure the right camera's residual roll from the sparse matches and warp the right "
        "image by the corrective rotation (kept across a stream's frames), which removes the disparity tilt a "
        "roll leaves.",
    )
    extrinsics_min_shift_px: float = param(
        0.5,
        "refine_extrinsics: a roll is applied only when it shifts the top or bottom row horizontally by at "
        "least this many pixels (and by more than 3 standard deviations).",
        low=0.0,
        high=1000.0,
        unit="px",
    )
    fill_holes: bool = param(
        True, "Fill pixels without a reliable match by image-guided interpolation (marked filled, lower confidence)."
    )
    filled_confidence: float = param(
        0.3, "Confidence of a filled pixel next to a match; it halves every 7 px further away.", low=0.0, high=1.0
    )
    fill_max_spread_px: float = param(
        3.0,
        "A hole pixel is filled only where the matched disparities its fill averages agree within this (their "
        "weighted standard deviation, px): fills across depth edges or conflicting matches stay empty. 0: no "
        "limit.",
        low=0.0,
        high=1000.0,
        unit="px",
    )
    seed_search_px: int = param(
        3,
        "seeded backend: disparity search around the interpolated sparse seeds, +- this many pixels.",
        low=1,
        high=16,
        unit="px",
    )
    seed_min_ncc: float = param(
        0.5,
        "seeded backend: smallest 7x7 normalised cross-correlation for a pixel to join the grown region.",
        low=-1.0,
        high=1.0,
    )
    model_path: str = param(
        "",
        "torchscript backend: TorchScript stereo network ((1,3,H,W) left, right in [0, 1] -> (1,1,H,W) disparity px).",
    )
    device: str = param(
        "auto",
        'torchscript and self_supervised backends: torch device, "auto" (CUDA when available, else CPU), "cpu", '
        '"cuda".',
    )
    self_supervised_weights_path: str = param(
        "", "self_supervised backend: weights file written by ``stereo-nerf train-self-supervised`` (a torch file)."
    )

    def __post_init__(self) -> None:
        check_declared(self)
        _check_range("depth_prior.max_depth_m", self.max_depth_m, self.min_depth_m, 1000.0)
        if self.block_size % 2 == 0:
            raise ConfigError(f"depth_prior.block_size must be odd, got {self.block_size}")
        if self.sgbm_downscale not in (1, 2, 4):
            raise ConfigError(f"depth_prior.sgbm_downscale must be 1, 2 or 4, got {self.sgbm_downscale}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"depth_prior.device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")


@dataclass(frozen=True)
class MatchingConfig:
    """Sparse feature matching: left-right on the rectified pair and frame to keyframe."""

    GROUP: ClassVar[str] = "matching"

    method: str = param(
        "sift", 'Detector/matcher: "sift" (OpenCV SIFT, ratio test) or "disk_lightglue" (needs learned_weights_path).'
    )
    max_features: int = param(
        2000, "Most features detected per image (strongest first); 0 keeps all.", low=0, high=1_000_000
    )
    ratio: float = param(
        0.8, "Lowe's ratio test: keep a match when best distance < ratio * second-best distance.", low=0.01, high=1.0
    )
    mutual_check: bool = param(True, "Keep only matches that are each other's best match in both directions.")
    min_confidence: float = param(
        0.3,
        "Matches with a lower confidence (in [0, 1]; SIFT: 1 - best / second-best distance) are dropped.",
        low=0.0,
        high=1.0,
    )
    sift_contrast_threshold: float = param(
        0.02,
        "SIFT's contrast threshold (OpenCV default 0.04 finds ~8x fewer features on low-contrast endoscopy).",
        low=0.0,
        high=1.0,
    )
    subpixel_window_px: int = param(
        11,
        "Refine stereo matches' right positions with Lucas-Kanade in a window of this side (px, odd); 0 disables.",
        low=0,
        high=101,
        unit="px",
    )
    max_epipolar_px: float = param(
        1.0,
        "Largest row difference |y_left - y_right|, in pixels, of a match on the rectified pair.",
        low=0.0,
        high=100.0,
        unit="px",
    )
    min_depth_m: float = derived(0.02, "scene.min_depth_m")
    max_depth_m: float = derived(0.3, "scene.max_depth_m")
    learned_weights_path: str = param(
        "", 'Torch file with {"disk": DISK state_dict, "lightglue": LightGlue state_dict} for method disk_lightglue.'
    )
    learned_device: str = param("cpu", 'torch device of the learned matcher: "cpu" or "cuda" (when torch has CUDA).')

    def __post_init__(self) -> None:
        check_declared(self)
        if self.method not in ("sift", "disk_lightglue"):
            raise ConfigError(f"matching.method must be 'sift' or 'disk_lightglue', got {self.method!r}")
        if self.subpixel_window_px and self.subpixel_window_px % 2 == 0:
            raise ConfigError(f"matching.subpixel_window_px must be odd or 0, got {self.subpixel_window_px}")
        _check_range("matching.max_depth_m", self.max_depth_m, self.min_depth_m, 1000.0)
        if not self.learned_device.lower().startswith(("cpu", "cuda")):
            raise ConfigError(f"matching.learned_device must be 'cpu' or 'cuda[:N]', got {self.learned_device!r}")


@dataclass(frozen=True)
class OdometryConfig:
    """Stereo visual odometry (used when the input has no poses): frame-to-keyframe tracking + PnP."""

    GROUP: ClassVar[str] = "odometry"

    tracker: str = param(
        "klt", 'Feature tracking: "klt" (Shi-Tomasi corners + pyramidal Lucas-Kanade) or "sift" (SIFT matching).'
    )
    max_features: int = param(
        500,
        "Features detected on each keyframe (outside instruments, where the depth prior has depth).",
        low=4,
        high=100_000,
    )
    min_feature_distance_px: float = param(
        7.0, "Smallest distance between two keyframe corners, in pixels (klt).", low=0.0, high=1000.0, unit="px"
    )
    klt_window_px: int = param(21, "Lucas-Kanade window side in pixels (klt, odd).", low=3, high=101, unit="px")
    klt_levels: int = param(3, "Pyramid levels above the full image for Lucas-Kanade (klt).", low=0, high=8)
    max_forward_backward_px: float = param(
        0.3,
        "Largest forward-backward Lucas-Kanade disagreement, in pixels, for a track to be kept (klt; 0 disables).",
        low=0.0,
        high=100.0,
        unit="px",
    )
    ransac_reprojection_px: float = param(
        1.0, "PnP RANSAC inlier threshold on the reprojection error, in pixels.", low=0.01, high=100.0, unit="px"
    )
    ransac_iterations: int = param(100, "Most PnP RANSAC iterations per frame.", low=1, high=100_000)
    min_inliers: int = param(
        20,
        "Fewer PnP inliers than this mark the frame as tracking lost (its pose is the last good one).",
        low=4,
        high=100_000,
    )
    max_reprojection_px: float = param(
        1.5,
        "A mean inlier reprojection error above this, in pixels, also marks tracking lost.",
        low=0.01,
        high=100.0,
        unit="px",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        if self.tracker not in ("klt", "sift"):
            raise ConfigError(f"odometry.tracker must be 'klt' or 'sift', got {self.tracker!r}")
        if self.klt_window_px % 2 == 0:
            raise ConfigError(f"odometry.klt_window_px must be odd, got {self.klt_window_px}")


@dataclass(frozen=True)
class KeyframeConfig:
    """Keyframe selection (motion and overlap thresholds, blur rejection) and the keyframe buffer."""

    GROUP: ClassVar[str] = "keyframes"

    min_translation_m: float = param(
        0.003, "A frame this far, in metres, from the last keyframe becomes a keyframe.", low=0.0, high=100.0, unit="m"
    )
    min_rotation_deg: float = param(
        3.0,
        "A frame rotated this much, in degrees, from the last keyframe becomes a keyframe.",
        low=0.0,
        high=180.0,
        unit="deg",
    )
    min_overlap: float = param(
        0.6,
        "A frame whose overlap with the last keyframe (share of its features tracked) falls below this becomes one.",
        low=0.0,
        high=1.0,
    )
    blur_relative_threshold: float = param(
        0.5,
        "A frame is blurred when its sharpness (variance of the Laplacian) is below this share of the recent median.",
        low=0.0,
        high=1.0,
    )
    blur_absolute_threshold: float = param(
        0.0,
        "A frame is blurred when its sharpness (variance of the Laplacian, grey levels^2) is below this; 0 disables.",
        low=0.0,
        high=1e9,
    )
    blur_history: int = param(
        10, "Recent frames whose median sharpness the relative blur test compares with.", low=1, high=10_000
    )
    buffer_capacity: int = param(
        30, "Keyframes kept in the buffer; the oldest is dropped beyond it.", low=1, high=1_000_000
    )

    def __post_init__(self) -> None:
        check_declared(self)


POSE_SOURCES = ("odometry", "tf", "ground_truth")


@dataclass(frozen=True)
class TrackingConfig:
    """Where camera poses come from."""

    GROUP: ClassVar[str] = "tracking"

    pose_source: str = param(
        "odometry",
        '"odometry" (stereo visual odometry), "tf" (the robot\'s tf tree: the chain from world_frame to '
        'camera_frame composed from /tf and /tf_static) or "ground_truth" (the bag\'s /ground_truth/pose: an '
        "oracle for experiments).",
    )
    world_frame: str = param(
        "world", "The fixed frame poses are given in (the root of the chain looked up with pose_source tf)."
    )
    camera_frame: str = param(
        "", "pose_source tf: the tf frame of the left camera (empty: the left raw image's frame_id)."
    )
    tf_timeout_s: float = param(
        0.2,
        "pose_source tf or ground_truth: how long, in seconds, the tracker waits for a pose that has not arrived yet.",
        low=0.0,
        high=60.0,
        unit="s",
    )
    prior_timeout_s: float = param(
        2.0,
        "pose_source odometry: how long, in seconds, the tracker waits for a would-be keyframe's depth prior "
        "(it stops waiting as soon as a later frame's prior comes: depth_prior skipped this one); without it "
        "the frame is tracked but does not become a keyframe.",
        low=0.0,
        high=60.0,
        unit="s",
    )

    def __post_init__(self) -> None:
        check_declared(self)
        if self.pose_source not in POSE_SOURCES:
            raise ConfigError(f"tracking.pose_source must be one of {POSE_SOURCES}, got {self.pose_source!r}")
        if not self.world_frame:
            raise ConfigError("tracking.world_frame must not be empty")
