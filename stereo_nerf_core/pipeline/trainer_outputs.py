"""The trainer node's outputs as messages: the latest frame's render, the keyframes' cloud and refined path, the
mesh marker. Each takes the trainer as it is (renders go first: :meth:`Trainer.render`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import NodesConfig
from stereo_nerf_core.io.messages import MessageClasses, array_to_image
from stereo_nerf_core.io.ros_conversions.marker import mesh_to_marker
from stereo_nerf_core.io.ros_conversions.point_cloud import arrays_to_point_cloud
from stereo_nerf_core.io.ros_conversions.trajectory import poses_to_path
from stereo_nerf_core.pipeline import node_topics as names

if TYPE_CHECKING:
    from stereo_nerf_core.training.keyframes import TrainingKeyframe
    from stereo_nerf_core.training.trainer import Trainer

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class CachedFrame:
    """One depth_prior frame, converted: what a keyframe or a render needs."""

    stamp_ns: int
    rgb: NDArray[np.uint8]
    """(H, W, 3) rectified left image."""
    depth: NDArray[np.float32]
    """(H, W) metres, 0 where none."""
    confidence: NDArray[np.float32]
    valid: NDArray[np.bool_]
    """(H, W) usable pixels (the mask image > 0)."""
    K: F64
    baseline_m: float


def subsample(
    K: F64, depth: NDArray[np.float32], confidence: NDArray[np.float32], factor: int
) -> tuple[F64, NDArray[np.float32], NDArray[np.float32]]:
    """K, depth and confidence (H, W) of every ``factor``-th pixel (pixel i' is pixel factor * i')."""
    shrunk = K.copy()
    shrunk[:2] /= factor
    return shrunk, depth[::factor, ::factor], confidence[::factor, ::factor]


def rendered_frame(
    trainer: Trainer, classes: MessageClasses, frame: CachedFrame, T_world_camera: F64, *, downscale: int
) -> dict[str, Any]:
    """``~/rendered/depth`` (32FC1, NaN where transparent) and ``~/rendered/image`` (rgb8) of ``frame`` at
    ``1 / downscale`` size, guided by its prior, stamped with it, in the rectified left optical frame."""
    K, depth, confidence = subsample(frame.K, frame.depth, frame.confidence, downscale)
    height, width = depth.shape
    view = trainer.render(K, T_world_camera, width, height, depth_prior=depth, confidence=confidence)
    rendered = np.where(view.opacity > 0, view.depth, np.nan).astype(np.float32)
    rgb = np.clip(np.rint(view.rgb * 255), 0, 255).astype(np.uint8)
    stamp, frame_id = frame.stamp_ns, names.LEFT_RECT_OPTICAL_FRAME
    return {
        names.RENDERED_DEPTH: array_to_image(classes, rendered, encoding="32FC1", stamp_ns=stamp, frame_id=frame_id),
        names.RENDERED_IMAGE: array_to_image(classes, rgb, encoding="rgb8", stamp_ns=stamp, frame_id=frame_id),
    }


def scene_cloud(
    trainer: Trainer, classes: MessageClasses, nodes: NodesConfig, *, stamp_ns: int, world_frame: str
) -> dict[str, Any]:
    """``~/cloud`` (world points of the newest ``nodes.cloud_keyframes`` keyframes' renders) and
    ``~/refined_path`` (every buffered keyframe's refined pose)."""
    from stereo_nerf_core.training.views import world_points

    keyframes = trainer.buffer.snapshot()
    poses = trainer.refined_poses()
    points: list[F64] = [np.zeros((0, 3))]
    colours: list[NDArray[np.float32]] = [np.zeros((0, 3), np.float32)]
    for keyframe in keyframes[-nodes.cloud_keyframes :]:
        K, depth, confidence = subsample(keyframe.K, keyframe.depth, keyframe.confidence, nodes.cloud_downscale)
        T = poses.get(keyframe.index, keyframe.T_world_camera)
        view = trainer.render(K, T, depth.shape[1], depth.shape[0], depth_prior=depth, confidence=confidence)
        world, colour = world_points(view, K, T, min_opacity=nodes.cloud_min_opacity)
        points.append(world)
        colours.append(colour)
    xyz = np.concatenate(points).astype(np.float32)
    rgb = np.clip(np.rint(np.concatenate(colours) * 255), 0, 255).astype(np.uint8)
    return {
        names.CLOUD: arrays_to_point_cloud(classes, xyz, rgb, stamp_ns=stamp_ns, frame_id=world_frame),
        names.REFINED_PATH: refined_path(classes, keyframes, poses, stamp_ns=stamp_ns, world_frame=world_frame),
    }


def refined_path(
    classes: MessageClasses,
    keyframes: Sequence[TrainingKeyframe],
    poses: dict[int, F64],
    *,
    stamp_ns: int,
    world_frame: str,
) -> Any:
    """nav_msgs/Path of the keyframes' (refined) poses, in keyframe order."""
    ordered = sorted(keyframes, key=lambda k: k.index)
    stamps = [k.stamp_ns for k in ordered]
    matrices = [poses.get(k.index, k.T_world_camera) for k in ordered]
    return poses_to_path(classes, stamps, matrices, stamp_ns=stamp_ns, frame_id=world_frame)


def mesh_marker(trainer: Trainer, classes: MessageClasses, *, resolution: int, stamp_ns: int, world_frame: str) -> Any:
    """``~/mesh``: a Marker TRIANGLE_LIST of the field's marching-cubes mesh; TrainingError without a surface."""
    from stereo_nerf_core.training.export import extract_mesh

    mesh = extract_mesh(trainer, resolution=resolution)
    return mesh_to_marker(
        classes,
        np.asarray(mesh.vertices),
        np.asarray(mesh.triangles),
        np.asarray(mesh.vertex_colors) if mesh.has_vertex_colors() else None,
        stamp_ns=stamp_ns,
        frame_id=world_frame,
    )
