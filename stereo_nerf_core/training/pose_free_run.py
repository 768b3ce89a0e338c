"""Pose-free reconstruction end to end: stage 1 (poses from the priors), stage 2 (the field with poses jointly), scores.

Stage 1 is :func:`~stereo_nerf_core.training.pose_free.align_priors`. Stage 2 hands the keyframes,
with the stage-1 poses and their priors corrected by the learnt scale and shift, to a
:class:`~stereo_nerf_core.training.trainer.Trainer` with ``pose_refinement`` on (at the learning rate
``pose_free.field_lr_pose``): its rendering losses (colour, depth against the prior, binocular) and
the photometric surface loss (rendered surfaces warped into the neighbouring keyframe,
``pose_free.field_surface_photometric_weight``) refine every pose (the first frame's stays the
gauge) while the field trains. :func:`trajectory_scores` reports ATE (after metric, i.e. rigid,
alignment) and RPE over one-frame steps (:mod:`~stereo_nerf_core.eval.trajectory`),
:func:`view_scores` the rendered keyframes' tissue depth and PSNR against ground truth.
:func:`keyframes_for_pose_free` reads a bag with or without poses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig, PoseFreeConfig, TrainerConfig
from stereo_nerf_core.eval.depth_metrics import DepthErrorAccumulator
from stereo_nerf_core.eval.image_metrics import psnr
from stereo_nerf_core.eval.trajectory import absolute_trajectory_error, relative_pose_error
from stereo_nerf_core.spine.frames import FrameAssembler
from stereo_nerf_core.spine.stages import StereoDepthStage
from stereo_nerf_core.training.bag_keyframes import BagKeyframe, bag_keyframe
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.pose_free import PriorAlignment, align_priors
from stereo_nerf_core.training.trainer import Trainer

Float = NDArray[np.float64]


@dataclass
class PoseFreeRun:
    """A pose-free reconstruction: the stage-1 alignment, the trainer of stage 2 and the final poses."""

    alignment: PriorAlignment
    trainer: Trainer | None
    """Stage 2's trainer (None when ``field_steps`` is 0)."""
    keyframes: list[TrainingKeyframe]
    """The keyframes as stage 2 saw them: stage-1 poses, corrected priors."""
    poses: Float
    """(N, 4, 4) final ``T_world_camera`` (stage 2's refined poses, else stage 1's)."""


@dataclass(frozen=True)
class PoseFreeInput:
    """Keyframes of a bag for pose-free reconstruction, and the ground truth to score it against."""

    frames: list[BagKeyframe]
    """Keyframes (their poses: identity, or the bag's /tf with ``initial_poses`` "odometry") with masks and depth."""
    truth: Float | None
    """(N, 4, 4) ground-truth rectified left poses, when the bag has them for every keyframe."""


def keyframes_for_pose_free(
    bag: Path | str,
    config: PipelineConfig,
    *,
    every: int = 1,
    downscale: int = 1,
    max_frames: int | None = None,
) -> PoseFreeInput:
    """Every ``every``-th pair of ``bag`` as a keyframe through the replay's stages (as
    :func:`~stereo_nerf_core.training.bag_keyframes.keyframes_from_bag`), with or without poses in the bag.

    Each keyframe's pose is the bag's /tf pose of the rectified left camera when ``pose_free.initial_poses``
    is "odometry" (robot kinematics or an odometry published on /tf; the identity where a frame has none),
    else the identity; the ground truth, when present, is kept aside for scoring only.
    """
    if every < 1 or downscale < 1:
        raise TrainingError(f"every and downscale must be >= 1, got {every} and {downscale}")
    stage = StereoDepthStage(config.depth_prior)
    use_tf = config.pose_free.initial_poses == "odometry"
    frames: list[BagKeyframe] = []
    truth: list[Float | None] = []
    for frame in FrameAssembler(config.sync, tracking=config.tracking).frames_from_bag(bag):
        if max_frames is not None and frame.index >= max_frames:
            break
        if frame.index % every:
            continue
        start = frame.T_world_left if use_tf and frame.T_world_left is not None else np.eye(4)
        item = bag_keyframe(stage, replace(frame, T_world_left_truth=start), downscale=downscale, binocular=True)
        frames.append(item)
        truth.append(None if frame.T_world_left_truth is None else frame.T_world_left_truth @ (
            np.linalg.inv(start) @ item.keyframe.T_world_camera))
    if len(frames) < 2:
        raise TrainingError(f"{bag}: pose-free reconstruction needs at least 2 stereo pairs, found {len(frames)}")
    complete = all(pose is not None for pose in truth)
    return PoseFreeInput(frames, np.stack([p for p in truth if p is not None]) if complete else None)


def run_pose_free(
    keyframes: Sequence[TrainingKeyframe],
    config: PoseFreeConfig,
    trainer_config: TrainerConfig,
    *,
    device: str = "auto",
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> PoseFreeRun:
    """Stage 1 then stage 2 (module docstring) on ``keyframes`` in stream order.

    ``config.initial_poses`` "identity" ignores the keyframes' poses (only the first one's is kept as
    the gauge, so the result shares the input's world frame up to the drift); "odometry" starts
    from them.
    """
    if not keyframes:
        raise TrainingError("pose-free reconstruction needs keyframes, got none")
    ordered = list(keyframes)
    given = np.stack([k.T_world_camera for k in ordered])
    initial = given if config.initial_poses == "odometry" else np.repeat(given[:1], len(ordered), axis=0)
    alignment = align_priors(ordered, config, initial_poses=initial, progress=progress)
    aligned = [
        replace(k, T_world_camera=pose).with_prior(_corrected(k.depth, scale, shift), k.confidence)
        for k, pose, scale, shift in zip(ordered, alignment.poses, alignment.scales, alignment.shifts_m, strict=True)
    ]
    if config.field_steps == 0:
        return PoseFreeRun(alignment, None, aligned, alignment.poses)
    stage_two = replace(
        trainer_config,
        pose_refinement=True,
        lr_pose=config.field_lr_pose,
        surface_photometric_weight=config.field_surface_photometric_weight,
    )
    trainer = Trainer(stage_two, device=device)
    for keyframe in aligned:
        trainer.add_keyframe(keyframe)
    trainer.train(max_steps=config.field_steps)
    refined = trainer.refined_poses()
    poses = np.stack([refined.get(k.index, k.T_world_camera) for k in aligned])
    return PoseFreeRun(alignment, trainer, aligned, poses)


def _corrected(depth: NDArray[np.float32], scale: float, shift: float) -> NDArray[np.float32]:
    return np.where(depth > 0, depth * scale + shift, 0.0).astype(np.float32)


def trajectory_scores(poses: Float, truth: Float) -> dict[str, Any]:
    """ATE (rigid alignment) and RPE (one-frame steps) of (N, 4, 4) ``poses`` against ``truth``, as a dict."""
    ate = absolute_trajectory_error(poses, truth)
    rpe = relative_pose_error(poses, truth)
    return {"ate": ate.as_dict(), "rpe": rpe.as_dict()}


def view_scores(
    trainer: Trainer,
    keyframes: Sequence[TrainingKeyframe],
    truth_depth: Sequence[NDArray[np.float32] | None],
    tissue: Sequence[NDArray[np.bool_]],
    *,
    max_depth_m: float = 0.3,
) -> dict[str, Any]:
    """Tissue depth metrics (rendered, guided by each keyframe's prior) and mean tissue PSNR of ``keyframes``."""
    depth = DepthErrorAccumulator(min_depth_m=0.001, max_depth_m=max_depth_m)
    psnrs = []
    for keyframe, truth, mask in zip(keyframes, truth_depth, tissue, strict=True):
        view = trainer.render_keyframe(keyframe, guided=True)
        if truth is not None:
            depth.add(view.depth, truth, mask)
        psnrs.append(psnr(view.rgb, keyframe.rgb / 255.0, mask=mask))
    return {"depth": depth.result().as_dict(), "psnr_db": float(np.mean(psnrs))}
