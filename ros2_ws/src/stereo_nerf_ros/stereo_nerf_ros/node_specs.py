"""What every node is, without rclpy: name, executable, parameter groups, inputs, outputs and services.

The rclpy nodes build their publishers from :data:`SPECS` (message types by name), the launch file
starts one node per spec, and the tests check that the specs, the launch file, the YAML and the
nodes' declared parameters agree. Topics are as in :mod:`stereo_nerf_core.pipeline.node_topics`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from stereo_nerf_core.io import topics
from stereo_nerf_core.pipeline import node_topics as names

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
POINT_CLOUD = "sensor_msgs/msg/PointCloud2"
POSE = "geometry_msgs/msg/PoseStamped"
PATH = "nav_msgs/msg/Path"
TF = "tf2_msgs/msg/TFMessage"
MARKER = "visualization_msgs/msg/Marker"
TRIGGER = "std_srvs/srv/Trigger"


@dataclass(frozen=True)
class NodeSpec:
    """One node of the pipeline."""

    name: str
    executable: str
    """Console script (setup.py) and launch ``executable``."""
    parameters: tuple[str, ...]
    """What the node declares: whole groups (``"trainer"``) and single parameters (``"nodes.frame_cache"``), as
    ``group.name`` parameters; only what the node reads."""
    inputs: dict[str, str]
    """Subscribed topic (relative, or /tf and /tf_static) -> message type (raw image topics: Image, or
    CompressedImage on ``<topic>/compressed``)."""
    outputs: dict[str, str]
    """Published topic (node-relative ``~/...`` or absolute) -> message type."""
    services: dict[str, str]
    """Service (node-relative) -> service type."""
    lifecycle: bool = False
    background: bool = False
    """Runs at ``nodes.background_niceness``: takes only the CPU the front-end leaves."""
    queue_parameter: str = "queue_size"
    """The ``nodes`` parameter that sizes the node's drop-oldest input queue: ``queue_size`` where dropping
    the oldest set is the policy under overload, ``frame_cache`` for nodes that must see every frame."""


_INPUT_QUEUE = ("sync", "nodes.queue_size", "nodes.cv_threads")
_BACKGROUND = ("nodes.background_niceness", "nodes.background_idle")
_TRAINER_OUTPUTS = tuple(
    f"nodes.{name}"
    for name in (
        "render_rate_hz",
        "render_downscale",
        "cloud_rate_hz",
        "cloud_keyframes",
        "cloud_downscale",
        "cloud_min_opacity",
        "mesh_rate_hz",
        "mesh_resolution",
        "checkpoint_path",
        "checkpoint_period_s",
        "mesh_path",
    )
)
_RAW = dict(zip(names.RAW_INPUTS, (IMAGE, IMAGE, CAMERA_INFO, CAMERA_INFO), strict=True))
_RECTIFIED = dict(zip(names.RECTIFIED_PAIR, (IMAGE, IMAGE, CAMERA_INFO, CAMERA_INFO), strict=True))
_TRACKER = dict(
    zip(
        (*names.TRACKER_INPUTS, *names.TRACKER_PRIOR_INPUTS),
        (IMAGE, CAMERA_INFO, CAMERA_INFO, IMAGE, IMAGE),
        strict=True,
    )
)
_FRAME = dict(zip(names.FRAME_INPUTS, (IMAGE, IMAGE, IMAGE, IMAGE, CAMERA_INFO, CAMERA_INFO), strict=True))

SPECS: dict[str, NodeSpec] = {
    spec.name: spec
    for spec in (
        NodeSpec(
            names.STEREO_FRONTEND,
            "stereo_frontend_node",
            (*_INPUT_QUEUE, "nodes.compressed_input"),
            _RAW,
            {
                names.LEFT_RECT_IMAGE: IMAGE,
                names.RIGHT_RECT_IMAGE: IMAGE,
                names.LEFT_RECT_INFO: CAMERA_INFO,
                names.RIGHT_RECT_INFO: CAMERA_INFO,
                topics.TF_STATIC: TF,
            },
            {},
        ),
        NodeSpec(
            names.MATCHER,
            "matcher_node",
            (*_INPUT_QUEUE, *_BACKGROUND, "scene", "matching"),
            _RECTIFIED,
            {names.MATCHES: POINT_CLOUD, names.POINTS: POINT_CLOUD},
            {},
            background=True,
        ),
        NodeSpec(
            names.DEPTH_PRIOR,
            "depth_prior_node",
            ("sync", "nodes.queue_size", "scene", "depth_prior"),
            _RECTIFIED,
            {names.DEPTH: IMAGE, names.CONFIDENCE: IMAGE, names.MASK: IMAGE, names.DEPTH_INFO: CAMERA_INFO},
            {},
        ),
        NodeSpec(
            names.TRACKER,
            "tracker_node",
            (
                "sync",
                "nodes.cv_threads",
                "nodes.frame_cache",
                "nodes.path_max_poses",
                "nodes.path_rate_hz",
                "scene",
                "matching",
                "odometry",
                "keyframes",
                "tracking",
            ),
            {
                **_TRACKER,
                names.RAW_LEFT_INFO: CAMERA_INFO,
                topics.TF: TF,
                topics.TF_STATIC: TF,
                names.GROUND_TRUTH_POSE: POSE,
            },
            {names.KEYFRAME_POSE: POSE, names.POSE: POSE, names.PATH: PATH, topics.TF: TF},
            {},
            queue_parameter="frame_cache",
        ),
        NodeSpec(
            names.TRAINER,
            "trainer_node",
            ("sync", "nodes.cv_threads", "nodes.frame_cache", *_BACKGROUND, *_TRAINER_OUTPUTS, "trainer"),
            {**_FRAME, names.TRAINER_POSE_INPUTS[0]: POSE, names.TRAINER_POSE_INPUTS[1]: POSE},
            {
                names.RENDERED_DEPTH: IMAGE,
                names.RENDERED_IMAGE: IMAGE,
                names.CLOUD: POINT_CLOUD,
                names.REFINED_PATH: PATH,
                names.MESH: MARKER,
            },
            dict.fromkeys(names.TRAINER_SERVICES, TRIGGER),
            lifecycle=True,
            background=True,
            queue_parameter="frame_cache",
        ),
    )
}
"""Every node, in data-flow order."""


def message_class(type_name: str) -> Any:
    """The rclpy class of ``"package/msg/Name"`` or ``"package/srv/Name"`` (needs the ROS packages)."""
    package, kind, name = type_name.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)
