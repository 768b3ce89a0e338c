"""The ``nerf``, ``sdf``, ``deformable`` and ``deformable_sdf`` replay methods: the online trainer (its model by
name) over the replay's own keyframes; time-conditioned models render each frame at its stamp.

Keyframes: every ``replay.keyframe_every``-th frame (by index) that is not held out and has a pose,
built like :func:`~stereo_nerf_core.training.bag_keyframes.keyframes_from_bag` (rectified images,
the stereo prior, the tissue mask, the pipeline's pose) and resampled by ``1 / replay.train_downscale``.
Training is spread over the replay: at each checkpoint (``progress`` of the stream) the trainer is
brought to ``progress * replay.train_steps`` steps, within ``progress * replay.train_seconds`` seconds.

Renders are made at the keyframes' resolution (the field's training grid; 4x fewer rays than the
full grid at ``train_downscale`` 2, which the CPU budget of the demo needs) and resized onto the full
rectified grid where every method is scored (colour bilinear, depth :func:`upsample_depth`). Input views (keyframes
and frames between them) are guided by the frame's own stereo prior (the trainer's query mode when a
prior exists: the prior only places the samples, depth and colour are the field's). Held-out views
never see their own frame: their samples are placed around the model's own rendered depth of the
nearest input frame, forward-warped into the held-out pose (two guided renders cost far less than
one render without a prior, which needs coarse + importance passes). The mesh is marching cubes on
the field.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.eval.novel_views import forward_warp
from stereo_nerf_core.pipeline.evaluation import EvaluatedFrame
from stereo_nerf_core.pipeline.methods import FrameInput, Rendering, ReplayMethod
from stereo_nerf_core.pipeline.timing import StageTimer
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.export import extract_mesh, seen_by_keyframes
from stereo_nerf_core.training.keyframe_factory import make_keyframe, shrink_prior
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.trainer import Trainer

F32 = NDArray[np.float32]


class TrainerMethod(ReplayMethod):
    """A NeRF or NeuS field trained online from the replay's keyframes (module docstring)."""

    def __init__(self, name: str, config: PipelineConfig, timer: StageTimer, *, mode: str) -> None:
        super().__init__(name, config, timer)
        self.stages = (f"{name}_keyframes", f"{name}_train", f"{name}_mesh")
        self.trainer = Trainer(replace(config.trainer, mode=mode))
        self.guides: dict[int, tuple[F32, F32, NDArray[np.float64]]] = {}
        """Input frames' prior depth and confidence (full grid) and pose, which guide the renders."""
        self.steps = 0
        self.train_seconds = 0.0
        self._mesh: o3d.geometry.TriangleMesh | None = None
        self._mesh_step = -1

    def add_frame(self, item: FrameInput) -> None:
        frame = item.frame
        if frame.held_out or frame.T_world_camera is None:
            return
        self.guides[frame.index] = (item.prior.depth, item.prior.confidence, frame.T_world_camera)
        if frame.index % self.config.replay.keyframe_every:
            return
        with self.timer.stage(f"{self.name}_keyframes"):
            self.trainer.add_keyframe(training_keyframe(item, downscale=self.config.replay.train_downscale))
        self.frames += 1
        self.inputs.add(frame.index)

    def advance(self, progress: float) -> None:
        replay = self.config.replay
        if not self.inputs:
            return
        steps = round(replay.train_steps * min(progress, 1.0)) - self.steps
        budget = replay.train_seconds * min(progress, 1.0) - self.train_seconds
        if steps <= 0 or budget <= 0:
            return
        with self.timer.stage(f"{self.name}_train"):
            summary = self.trainer.train(max_steps=steps, budget_s=budget)
        self.steps += summary.steps
        self.train_seconds += summary.seconds

    def render(self, frame: EvaluatedFrame, K: NDArray[np.float64], size: tuple[int, int]) -> Rendering | None:
        if self.trainer.model is None or frame.T_world_camera is None:
            return None
        factor = self.config.replay.train_downscale
        K_small = K.copy()
        K_small[:2, :2] /= factor
        K_small[:2, 2] = (K[:2, 2] + 0.5) / factor - 0.5
        small = (size[0] // factor, size[1] // factor)
        with self.timer.stage(f"{self.name}_render"):
            if frame.held_out:
                depth_prior, confidence = self._guide_from_nearest_input(
                    frame.index, frame.T_world_camera, K_small, small, frame.stamp_ns
                )
            else:
                depth_prior, confidence = self._own_prior(frame.index, factor)
            view = self.trainer.render(
                K_small, frame.T_world_camera, *small, depth_prior=depth_prior, confidence=confidence,
                stamp_ns=frame.stamp_ns,
            )
        if factor == 1:
            return Rendering(view.depth, view.rgb)
        rgb = np.clip(cv2.resize(view.rgb, size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
        return Rendering(upsample_depth(view.depth, size), rgb.astype(np.float32))

    def _own_prior(self, index: int, factor: int) -> tuple[F32 | None, F32 | None]:
        if index not in self.guides:
            return None, None
        depth, confidence, _ = self.guides[index]
        return shrink_prior(depth, confidence, factor) if factor > 1 else (depth, confidence)

    def _guide_from_nearest_input(
        self,
        index: int,
        T_world_camera: NDArray[np.float64],
        K: NDArray[np.float64],
        size: tuple[int, int],
        stamp_ns: int,
    ) -> tuple[F32 | None, F32 | None]:
        """The model's own depth (at the held-out stamp) of the nearest input frame, warped into the held-out pose.

        Only the sample placement uses it (the held-out frame's images and prior are never used); where
        nothing lands the rays get the trainer's uniform samples.
        """
        if not self.guides:
            return None, None
        nearest = min(self.guides, key=lambda other: (abs(other - index), other))
        prior, confidence = self._own_prior(nearest, self.config.replay.train_downscale)
        T_nearest = self.guides[nearest][2]
        view = self.trainer.render(K, T_nearest, *size, depth_prior=prior, confidence=confidence, stamp_ns=stamp_ns)
        _, depth = forward_warp(view.rgb, view.depth, K, T_nearest, T_world_camera, size)
        return depth, (depth > 0).astype(np.float32)

    def mesh(self) -> o3d.geometry.TriangleMesh | None:
        if self.trainer.model is None:
            return None
        if self._mesh_step != self.trainer.step_count:
            self._mesh_step = self.trainer.step_count
            try:
                with self.timer.stage(f"{self.name}_mesh"):
                    mesh = extract_mesh(self.trainer, resolution=self.config.replay.mesh_resolution)
                    self._mesh = seen_by_keyframes(mesh, self.trainer)
            except TrainingError as error:
                self._mesh = None
                self.notes.append(f"{self.name}: no mesh after {self.trainer.step_count} steps: {error}")
        return self._mesh

    def close(self) -> None:
        if self.trainer.running:
            self.trainer.stop()


def training_keyframe(item: FrameInput, *, downscale: int) -> TrainingKeyframe:
    """A binocular training keyframe of a processed frame, resampled by ``1 / downscale`` (the keyframe factory)."""
    frame = item.frame
    assert frame.T_world_camera is not None
    instrument = frame.instrument if frame.instrument is not None else np.zeros(frame.left.shape[:2], bool)
    return make_keyframe(
        index=frame.index,
        stamp_ns=frame.stamp_ns,
        left=frame.left,
        right=item.right,
        prior=item.prior,
        calibration=item.calibration,
        T_world_camera=frame.T_world_camera,
        tissue=frame.tissue,
        instrument=instrument,
        downscale=downscale,
    )


def upsample_depth(depth: F32, size: tuple[int, int]) -> F32:
    """Depth (h, w) resized to (width, height) ``size``: bilinear on smooth surfaces, nearest at edges and holes.

    A pixel keeps the bilinear value where it is within 5 % of the nearest one (no depth edge or hole
    among the four source pixels), else the nearest value.
    """
    nearest = cv2.resize(depth, size, interpolation=cv2.INTER_NEAREST)
    linear = cv2.resize(depth, size, interpolation=cv2.INTER_LINEAR)
    smooth = (nearest > 0) & (np.abs(linear - nearest) <= 0.05 * nearest)
    return np.where(smooth, linear, nearest).astype(np.float32)
