"""The stereo stream of a bag as :class:`StreamFrame` objects, and training the depth network on it.

Frames are paired and rectified as in the replay (:class:`FrameAssembler`, :class:`StereoDepthStage`);
poses come from ``self_supervised.pose_source`` through :class:`PoseSource` ("odometry" runs the stereo
visual odometry on the SGBM prior; "none" gives no poses: left-right view synthesis only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.self_supervised.training import OnlineDepthTrainer, StreamFrame
from stereo_nerf_core.io import topics
from stereo_nerf_core.spine.frames import FrameAssembler
from stereo_nerf_core.spine.poses import PoseSource
from stereo_nerf_core.spine.stages import StereoDepthStage


def stream_frames(bag: Path | str, config: PipelineConfig, *, max_frames: int | None = None) -> Iterator[StreamFrame]:
    """The bag's rectified pairs in stream order, posed by ``config.self_supervised.pose_source``."""
    source_name = config.self_supervised.pose_source
    stage = StereoDepthStage(dataclasses.replace(config.depth_prior, backend="sgbm"))
    poses = None
    if source_name != "none":
        poses = PoseSource(
            dataclasses.replace(config, tracking=dataclasses.replace(config.tracking, pose_source=source_name))
        )
    for frame in FrameAssembler(config.sync, tracking=config.tracking).frames_from_bag(bag):
        if max_frames is not None and frame.index >= max_frames:
            break
        calibration, left, right = stage.rectify_frame(frame)
        pose = None
        if poses is not None:
            instrument = np.zeros(left.shape[:2], bool)
            if frame.instrument_mask is not None:
                instrument = calibration.rectify_left_nearest(frame.instrument_mask.astype(np.uint8)) > 0
            prior = stage.estimate_prior(left, right, calibration) if source_name == "odometry" else None
            pose = poses.pose(frame, calibration, left, prior, instrument).T_world_camera  # type: ignore[arg-type]
        yield StreamFrame(
            stamp_ns=frame.stamp_ns,
            left=left,
            right=right,
            K=calibration.K_rect,
            baseline_m=calibration.baseline_m,
            disparity_offset_px=calibration.disparity_offset,
            T_world_camera=pose,
        )


def train_from_bag(
    bag: Path | str,
    config: PipelineConfig,
    *,
    budget_s: float | None = None,
    max_steps: int | None = None,
    max_frames: int | None = None,
    device: str = "cpu",
    anneal: bool = True,
) -> OnlineDepthTrainer:
    """A depth network trained on the bag's stream: frames are buffered as they come, then trained on.

    Stops after ``max_steps`` steps or ``budget_s`` seconds of training, whichever first; with ``anneal`` the
    learning rate falls over the second half of the run (see :meth:`OnlineDepthTrainer.train`).
    """
    trainer = OnlineDepthTrainer(
        config.self_supervised,
        min_depth_m=config.depth_prior.min_depth_m,
        max_depth_m=config.depth_prior.max_depth_m,
        device=device,
    )
    for frame in stream_frames(bag, config, max_frames=max_frames):
        trainer.add_frame(frame)
    if not trainer.buffer:
        raise FrontendError(f"{bag}: no synchronised stereo pairs on {topics.LEFT_IMAGE} and {topics.RIGHT_IMAGE}")
    trainer.train(max_steps=max_steps, budget_s=budget_s, anneal=anneal)
    return trainer
