"""Names of the node graph: nodes, their (node-relative) output topics, their inputs and frames.

String constants only (no heavy imports), shared by the ROS-free stages, :class:`StageGraph`, the
rclpy nodes and the launch file, so the offline graph is wired exactly like the launch file. Output
topics are node-relative (``~/...``: ``/<namespace>/<node>/...``); inputs are relative names
(``depth_prior/depth``, ``stereo/left/image_raw``), resolved in the node's namespace, so the whole graph
moves under any namespace and remaps just work; only ``/tf`` and ``/tf_static`` are absolute.
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


def relative(topic: str) -> str:
    """A bag's absolute topic as the relative name a node subscribes to (``/stereo/x`` -> ``stereo/x``)."""
    return topic.lstrip("/")


RAW_INPUTS: tuple[str, str, str, str] = (
    relative(topics.LEFT_IMAGE),
    relative(topics.RIGHT_IMAGE),
    relative(topics.LEFT_CAMERA_INFO),
    relative(topics.RIGHT_CAMERA_INFO),
)
"""The driver's topics, relative (remapped in the launch file); images are Image or, with
``nodes.compressed_input``, CompressedImage on ``<image topic>/compressed``."""
RAW_LEFT_INFO = RAW_INPUTS[2]
GROUND_TRUTH_POSE = relative(topics.GROUND_TRUTH_POSE)
"""An external pose of the left raw optical frame (tracking.pose_source ground_truth)."""

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
DEPTH_INFO = "~/camera_info"
DEPTH_PRIOR_OUTPUTS = (DEPTH, CONFIDENCE, MASK, DEPTH_INFO)

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
    """The absolute name of a node-relative (``~/x``), relative (``a/b``) or absolute topic in ``namespace``."""
    prefix = f"/{namespace.strip('/')}" if namespace.strip("/") else ""
    if topic.startswith("~/"):
        return f"{prefix}/{node}/{topic[2:]}"
    return topic if topic.startswith("/") else f"{prefix}/{topic}"


def _of(node: str, *outputs: str) -> tuple[str, ...]:
    """Outputs (``~/x``) of ``node`` as the relative names other nodes subscribe to (``node/x``)."""
    return tuple(f"{node}/{output[2:]}" for output in outputs)


RECTIFIED_PAIR = _of(STEREO_FRONTEND, LEFT_RECT_IMAGE, RIGHT_RECT_IMAGE, LEFT_RECT_INFO, RIGHT_RECT_INFO)
"""stereo_frontend's rectified pair: what the matcher and depth_prior subscribe to (exact stamps), so the
raw pair is rectified once in the graph."""
MATCHER_INPUTS = RECTIFIED_PAIR
DEPTH_PRIOR_INPUTS = RECTIFIED_PAIR
FRAME_INPUTS = (
    *_of(DEPTH_PRIOR, DEPTH, CONFIDENCE, MASK),
    *_of(STEREO_FRONTEND, LEFT_RECT_IMAGE, LEFT_RECT_INFO, RIGHT_RECT_INFO),
)
"""One frame (exact stamps): the prior's depth, confidence and mask with the rectified left image and the
rectified left and right camera_info."""
TRACKER_INPUTS = _of(STEREO_FRONTEND, LEFT_RECT_IMAGE, LEFT_RECT_INFO, RIGHT_RECT_INFO)
"""What the tracker tracks (exact stamps): the rectified left image and the rectified camera_infos. It poses
a frame as soon as its image arrives and waits for the slower :data:`TRACKER_PRIOR_INPUTS` only when the frame
becomes a keyframe. It also keeps the latest raw left camera_info (:data:`RAW_LEFT_INFO`, for the raw <-
rectified rotation) and, with ``tracking.pose_source`` tf or ground_truth, reads ``/tf`` and ``/tf_static``
or :data:`GROUND_TRUTH_POSE`."""
TRACKER_PRIOR_INPUTS = _of(DEPTH_PRIOR, DEPTH, CONFIDENCE)
"""The depth prior of a frame (exact stamps): what a new keyframe's features take their depth from."""
TRAINER_FRAME_INPUTS = FRAME_INPUTS
"""Synchronised (exact stamps) per-frame inputs of the trainer."""
TRAINER_POSE_INPUTS = _of(TRACKER, POSE, KEYFRAME_POSE)
"""The trainer's pose inputs: the latest frame's pose (renders) and keyframe poses (training)."""
