"""The ``nodes`` configuration group: what only the live ROS nodes use (re-exported by
:mod:`stereo_nerf_core.config`; each field declared with ``param``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from stereo_nerf_core.config_checks import check_declared, param


@dataclass(frozen=True)
class NodesConfig:
    """How the ROS 2 nodes (and the offline stage graph) queue inputs and pace their outputs."""

    GROUP: ClassVar[str] = "nodes"

    compressed_input: bool = param(
        False,
        'stereo_frontend subscribes to sensor_msgs/CompressedImage on "<image topic>/compressed" (jpeg or png) '
        "instead of sensor_msgs/Image.",
    )
    queue_size: int = param(
        4,
        "Input sets stereo_frontend, depth_prior and the matcher keep waiting; beyond it the oldest is dropped "
        "and counted (backpressure: latency stays bounded; a hiccup of up to this many frames is absorbed).",
        low=1,
        high=10_000,
    )
    cv_threads: int = param(
        1,
        "OpenCV worker threads of every node but depth_prior (0: one per core; depth_prior.threads sets its "
        "own). The nodes already run in parallel, one process each; more threads per node only contend for the "
        "cores.",
        low=0,
        high=1024,
    )
    background_niceness: int = param(
        10,
        "Niceness (0-19) the matcher and the trainer run at: they get the CPU the front-end (stereo_frontend, "
        "depth_prior, tracker) leaves, never the reverse. 0: same priority as the front-end.",
        low=0,
        high=19,
    )
    background_idle: bool = param(
        True,
        "The matcher's worker and the trainer's training loop and outputs also use the SCHED_IDLE policy: they run "
        "only on a core the front-end leaves idle (Linux; on a GPU cart the front-end leaves most cores idle). "
        "Their executor and DDS threads stay at ``background_niceness``, so they keep receiving.",
    )
    frame_cache: int = param(
        30,
        "Recent depth_prior frames the trainer keeps until the tracker says whether each is a keyframe.",
        low=1,
        high=10_000,
    )
    path_max_poses: int = param(
        2000,
        "Most poses in the tracker's nav_msgs/Path. It spans the whole trajectory: when it is full, every other "
        "pose is dropped (the newest kept), so memory and the cost of each publish stay bounded for hours "
        "(rclpy takes about 16 ms per 1000 poses to publish one).",
        low=2,
        high=100_000,
    )
    path_rate_hz: float = param(
        1.0,
        "Largest rate, in Hz, of the tracker's nav_msgs/Path (by frame stamps; 0: off). The whole path goes out "
        "each time, so publishing it with every frame would cost more than tracking after a few thousand poses.",
        low=0.0,
        high=1000.0,
        unit="Hz",
    )
    render_rate_hz: float = param(
        2.0,
        "Largest rate, in Hz, of the trainer's rendered depth and colour of the latest frame (0: off).",
        low=0.0,
        high=1000.0,
        unit="Hz",
    )
    render_downscale: int = param(
        4,
        "The trainer renders the latest frame at 1 / this of the image size (1: full size; a render of 1/4 size "
        "takes 0.2 s on a 2-core CPU, 1/2 size 1.1 s).",
        low=1,
        high=64,
    )
    cloud_rate_hz: float = param(
        0.5,
        "Largest rate, in Hz, of the trainer's coloured point cloud and refined path (0: off).",
        low=0.0,
        high=1000.0,
        unit="Hz",
    )
    cloud_keyframes: int = param(8, "The newest keyframes rendered into the point cloud.", low=1, high=10_000)
    cloud_downscale: int = param(4, "Keyframes are rendered for the cloud at 1 / this of their size.", low=1, high=64)
    cloud_min_opacity: float = param(
        0.5, "Rendered pixels below this opacity are left out of the point cloud.", low=0.0, high=1.0
    )
    mesh_rate_hz: float = param(
        0.1,
        "Largest rate, in Hz, of the trainer's mesh marker (marching cubes, costly; 0: off).",
        low=0.0,
        high=1000.0,
        unit="Hz",
    )
    mesh_resolution: int = param(
        96,
        "Marching-cubes cells along the longest side of the scene box (mesh marker and write_mesh).",
        low=8,
        high=1024,
    )
    checkpoint_path: str = param(
        "stereo_nerf_checkpoint.pt",
        "File the trainer's save_checkpoint / load_checkpoint services write and read (relative: to the node's "
        "working directory); a (re)started trainer resumes from it.",
    )
    checkpoint_period_s: float = param(
        60.0,
        "Seconds between the trainer's automatic checkpoints to checkpoint_path (0: only when asked).",
        low=0.0,
        high=86_400.0,
        unit="s",
    )
    mesh_path: str = param(
        "stereo_nerf_mesh.ply",
        "PLY file the trainer's write_mesh service writes (relative: to the node's working directory).",
    )

    def __post_init__(self) -> None:
        check_declared(self)
