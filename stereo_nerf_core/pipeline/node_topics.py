"""Names of the node graph: nodes, their (node-relative) output topics, their inputs and frames.

String constants only (no heavy imports), shared by the ROS-free stages, :class:`StageGraph`, the
rclpy nodes and the launch file, so the offline graph is wired exactly like the launch file. Output
topics are node-relative (``~/...``); with the launch file's empty namespace ``~`` is ``/<node>``.
Frames follow REP 103/105: ``world`` (fixed), the raw optical frames of the driver, and the
rectified optical frames this pipeline publishes under them on ``/tf_static``.
"""

from __future__ import annotations

from stereo_nerf_core.io import topics

STEREO_FRONTEND = "stereo_frontend"
MATCHER = "matcher"
DEPTH_PRIOR = "depth_prior"
TRACKER = "tracker"
TRAINER = "trainer"
NODES = (STEREO_FRONTEND, MATCHER, DEPTH_PRIOR, TRACKER, TRAINER)
"""Every node of the pipeline, in data-flow order (the launch file starts these)."""

LEFT_RECT_OPTICAL_FRAME = "stereo_left_rect_optical_frame"
"""Rectified left camera (x right, y down, z forward); child of the raw left optical frame."""
RIGHT_RECT_OPTICAL_FRAME = "stereo_right_rect_optical_frame"
"""Rectified right camera; child of the raw right optical frame."""

RAW_INPUTS = (topics.LEFT_IMAGE, topics.RIGHT_IMAGE, topics.LEFT_CAMERA_INFO, topics.RIGHT_CAMERA_INFO)
"""The driver's topics (remapped in the launch file); images are Image or, with
``nodes.compressed_input``, CompressedImage on ``<image topic>/compressed``."""

COMPRESSED_SUFFIX = "/compressed"


def raw_inputs(*, compressed: bool) -> tuple[str, str, str, str]:
    """The raw inputs a node subscribes to: images on ``<topic>/compressed`` with ``nodes.compressed_input``."""
    left, right, left_info, right_info = RAW_INPUTS
    if compressed:
        left, right = left + COMPRESSED_SUFFIX, right + COMPRESSED_SUFFIX
    return left, right, left_info, right_info


# stereo_frontend
LEFT_RECT_IMAGE = "~/left/image_rect"
RIGHT_RECT_IMAGE = "~/right/image_rect"
LEFT_RECT_INFO = "~/left/camera_info"
RIGHT_RECT_INFO = "~/right/camera_info"
FRONTEND_OUTPUTS = (LEFT_RECT_IMAGE, RIGHT_RECT_IMAGE, LEFT_RECT_INFO, RIGHT_RECT_INFO)

# matcher
MATCHES = "~/matches"
POINTS = "~/points"
MATCHER_OUTPUTS = (MATCHES, POINTS)

# depth_prior
DEPTH = "~/depth"
CONFIDENCE = "~/confidence"
MASK = "~/mask"
DEPTH_PRIOR_OUTPUTS = (DEPTH, CONFIDENCE, MASK, LEFT_RECT_IMAGE, LEFT_RECT_INFO, RIGHT_RECT_INFO)

# tracker
POSE = "~/pose"
PATH = "~/path"
KEYFRAME_POSE = "~/keyframe_pose"
TRACKER_OUTPUTS = (POSE, PATH, KEYFRAME_POSE)

# trainer
RENDERED_DEPTH = "~/rendered/depth"
RENDERED_IMAGE = "~/rendered/image"
CLOUD = "~/cloud"
REFINED_PATH = "~/refined_path"
MESH = "~/mesh"
TRAINER_OUTPUTS = (RENDERED_DEPTH, RENDERED_IMAGE, CLOUD, REFINED_PATH, MESH)

SAVE_CHECKPOINT = "~/save_checkpoint"
LOAD_CHECKPOINT = "~/load_checkpoint"
RESET = "~/reset"
WRITE_MESH = "~/write_mesh"
RENDER = "~/render"
TRAINER_SERVICES = (SAVE_CHECKPOINT, LOAD_CHECKPOINT, RESET, WRITE_MESH, RENDER)
"""Trainer services (std_srvs/Trigger): checkpoints and the mesh go to the files ``nodes.checkpoint_path``
and ``nodes.mesh_path``; ``~/render`` publishes the latest frame's rendered views now."""


def resolve(node: str, topic: str, namespace: str = "") -> str:
    """The absolute name of a node-relative (``~/x``) or absolute topic of ``node`` in ``namespace``."""
    prefix = f"/{namespace.strip('/')}" if namespace.strip("/") else ""
    if topic.startswith("~/"):
        return f"{prefix}/{node}/{topic[2:]}"
    return topic if topic.startswith("/") else f"{prefix}/{topic}"


def _of(node: str, *names: str) -> tuple[str, ...]:
    return tuple(resolve(node, name) for name in names)


MATCHER_INPUTS = _of(STEREO_FRONTEND, LEFT_RECT_IMAGE, RIGHT_RECT_IMAGE, LEFT_RECT_INFO, RIGHT_RECT_INFO)
"""What the matcher subscribes to (the launch file's default wiring)."""
TRACKER_INPUTS = _of(DEPTH_PRIOR, DEPTH, CONFIDENCE, MASK, LEFT_RECT_IMAGE, LEFT_RECT_INFO, RIGHT_RECT_INFO)
"""Synchronised (exact stamps) inputs of the tracker; it also keeps the latest raw left camera_info
(``topics.LEFT_CAMERA_INFO``, for the raw <- rectified rotation) and, with ``tracking.pose_source``
tf or ground_truth, reads ``/tf`` or ``/ground_truth/pose``."""
TRAINER_FRAME_INPUTS = _of(DEPTH_PRIOR, DEPTH, CONFIDENCE, MASK, LEFT_RECT_IMAGE, LEFT_RECT_INFO, RIGHT_RECT_INFO)
"""Synchronised (exact stamps) per-frame inputs of the trainer."""
TRAINER_POSE_INPUTS = _of(TRACKER, POSE, KEYFRAME_POSE)
"""The trainer's pose inputs: the latest frame's pose (renders) and keyframe poses (training)."""
