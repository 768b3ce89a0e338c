"""Online training of a model (:mod:`~stereo_nerf_core.models`, by ``trainer.mode``) from a growing keyframe buffer.

A :class:`Trainer` keeps the loop, the optimiser, the thread and the checkpoints. It owns the keyframe
buffer, the model (built on the first step from the keyframes then buffered, by
:func:`~stereo_nerf_core.training.setup.build_scene`), its Adam optimiser (hash tables and networks with
their own learning rates; :mod:`~stereo_nerf_core.training.schedule`) and the optional per-keyframe pose
corrections. :meth:`Trainer.step` trains one ray batch; :meth:`Trainer.train` runs for a number of steps
and/or seconds; :meth:`Trainer.start` runs steps on a background thread while the front-end keeps calling
:meth:`Trainer.add_keyframe`, and :meth:`Trainer.render` answers queries at any time
(:mod:`~stereo_nerf_core.training.views`). One re-entrant lock serialises steps, renders, refinement and
checkpoints, so a query sees the model between two steps, never during one; renders go first
(:class:`~stereo_nerf_core.training.background.RendersFirst`).

Depth refinement (from ``depth_refine_start``, every ``depth_refine_period`` steps, for
``depth_refine_rounds`` rounds): see :mod:`~stereo_nerf_core.training.refinement`.

Device: ``"auto"`` picks CUDA when torch has it, else the CPU; float16 autocast (with gradient
scaling) runs on CUDA only, when ``mixed_precision`` is set. Seeds come from the config only.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.devices import resolve_device
from stereo_nerf_core.models.base import Model
from stereo_nerf_core.models.registry import model_class
from stereo_nerf_core.render.occupancy import OccupancyGrid, marching_step
from stereo_nerf_core.render.renderer import SamplingConfig, render_rays
from stereo_nerf_core.training.background import BackgroundLoop, RendersFirst
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import KeyframeBuffer, TrainingKeyframe
from stereo_nerf_core.training.objective import objective
from stereo_nerf_core.training.poses import PoseCorrections
from stereo_nerf_core.training.rays_batch import BatchOptions, RayBatchSampler, keyframe_rays
from stereo_nerf_core.training.refinement import refine_keyframes
from stereo_nerf_core.training.results import RenderedView, StepStats, TrainSummary
from stereo_nerf_core.training.scene_bounds import SceneBounds
from stereo_nerf_core.training.schedule import learning_rate_factor, occupancy_due, refinement_due
from stereo_nerf_core.training.setup import FieldConfig, build_scene
from stereo_nerf_core.training.surface_photometric import KeyframeImages, surface_photometric_loss
from stereo_nerf_core.training.views import render_view


class Trainer:
    """Trains a field online from keyframes (see the module docstring).

    ``field_config``, ``sampling`` and ``bounds`` replace what the trainer would derive from the
    first keyframes; ``background`` (RGB in [0, 1]) fills transparent rays (None: black).
    """

    def __init__(
        self,
        config: TrainerConfig,
        *,
        device: torch.device | str = "auto",
        field_config: FieldConfig | None = None,
        sampling: SamplingConfig | None = None,
        bounds: SceneBounds | None = None,
        background: tuple[float, float, float] | None = None,
    ) -> None:
        self.config = config
        self.model_class = model_class(config.mode)
        requested = device if isinstance(device, torch.device) else resolve_device(device, parameter="trainer.device")
        self.device = torch.device(requested)
        self.buffer = KeyframeBuffer(config.buffer_capacity)
        self.field_config, self.base_sampling, self.bounds, self.background = field_config, sampling, bounds, background
        self.sampling: SamplingConfig | None = None
        """Sampling of training rays and prior-guided renders."""
        self.render_sampling: SamplingConfig | None = None
        """Sampling of renders without a prior: ``coarse_samples`` uniform, then importance samples."""
        self.occupancy: OccupancyGrid | None = None
        """Occupancy grid of prior-less rays (measured from ``occupancy_warmup_steps`` on)."""
        self.images = KeyframeImages(self.device)
        self.model: Model | None = None
        self.optimizer: torch.optim.Adam | None = None
        self.poses = PoseCorrections()
        self.step_count = 0
        self.refined_pixels = 0
        self.last_stats: StepStats | None = None
        """The latest step's loss terms, PSNR and cost."""
        self.time_origin_ns: int | None = None
        self._origin_lock = threading.Lock()
        """Stamp of the first keyframe: time-conditioned models see seconds since it."""
        self.sampler = RayBatchSampler(BatchOptions.of(config), seed=config.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.autocast = config.mixed_precision and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast)
        self.turns = RendersFirst()
        self.lock = self.turns.lock
        """Held during every step, render, refinement round and checkpoint."""
        self.loop = BackgroundLoop(self.step, lambda: len(self.buffer) == 0, name="stereo_nerf-trainer")

    # -- keyframes and the model -----------------------------------------------------------------
    def add_keyframe(self, keyframe: TrainingKeyframe) -> TrainingKeyframe | None:
        """Buffer a keyframe (thread-safe, also while training runs); returns the one dropped, if any."""
        with self._origin_lock:  # not the model's lock: a keyframe never waits for a training step
            if self.time_origin_ns is None:
                self.time_origin_ns = keyframe.stamp_ns
        dropped = self.buffer.append(keyframe)
        self.loop.wake()
        return dropped

    def background_turn(self) -> contextlib.AbstractContextManager[None]:
        """The model for one slice of background work (a training step, a chunk of a mesh), after the renders
        that wait for it: renders come first."""
        return self.turns.background()

    def build(self) -> Model:
        """Build the model from the buffered keyframes (the first step does it when not called)."""
        with self.lock:
            if self.model is not None:
                return self.model
            keyframes = self._snapshot()
            scene = build_scene(
                keyframes, self.config, bounds=self.bounds, sampling=self.base_sampling, field_config=self.field_config
            )
            self.bounds, self.field_config = scene.bounds, scene.field_config
            self.sampling, self.render_sampling = scene.sampling, scene.render_sampling
            self.occupancy = None if scene.occupancy is None else scene.occupancy.to(self.device)
            self.model = scene.model.to(self.device)
            self.poses.translation_scale = scene.translation_scale
            self.poses.to(self.device)
            groups = self.model.parameter_groups(lr_hash=self.config.lr_hash, lr_network=self.config.lr_network)
            # fused: one kernel over every table (five times faster than foreach on a CPU for the hash tables)
            self.optimizer = torch.optim.Adam(groups, betas=(0.9, 0.99), eps=1e-15, fused=True)
            return self.model

    def _snapshot(self) -> tuple[TrainingKeyframe, ...]:
        keyframes = self.buffer.snapshot()
        if not keyframes:
            raise TrainingError("the keyframe buffer is empty: add keyframes before training or rendering")
        return keyframes

    def keyframe_poses(self, keyframes: tuple[TrainingKeyframe, ...]) -> torch.Tensor:
        """(S, 4, 4) float32 poses of ``keyframes`` on the device, refined when pose refinement is on."""
        given = torch.tensor(np.stack([k.T_world_camera for k in keyframes]), dtype=torch.float32, device=self.device)
        return self.poses.refine([k.index for k in keyframes], given) if self.config.pose_refinement else given

    def refined_poses(self) -> dict[int, NDArray[np.float64]]:
        """``{index: T_world_camera (4, 4)}`` of the buffered keyframes, with their corrections when refined."""
        with self.lock:
            corrections = self.poses.matrices() if self.config.pose_refinement else {}
            return {k.index: k.T_world_camera @ corrections.get(k.index, np.eye(4)) for k in self.buffer.snapshot()}

    # -- training --------------------------------------------------------------------------------
    def step(self) -> StepStats:
        """One optimisation step on a fresh ray batch; :class:`TrainingError` when there are no keyframes."""
        with self.background_turn():
            start = time.perf_counter()
            model = self.build()
            if refinement_due(self.config, self.step_count):
                self.refine_depth()
            keyframes = self._snapshot()
            assert self.optimizer is not None and self.sampling is not None and self.render_sampling is not None
            if self.config.pose_refinement:
                indices = [k.index for k in keyframes]
                self.poses.register_all(indices, self.optimizer, lr=self.config.lr_pose, device=self.device)
            if self.occupancy is not None and occupancy_due(self.config, self.step_count):
                self._measure_occupancy(model)
            batch = self.sampler.sample(keyframes).to(self.device)
            model.train()
            # Rays with a prior are sampled around it (prior-less rays in such a batch get uniform samples);
            # a batch without any prior (a scene without stereo) gets the coarse + importance passes.
            guided = bool(((batch.depth > 0) & (batch.confidence > 0)).any())
            times = None
            if model.time_conditioned:
                times = torch.tensor([self.seconds(k.stamp_ns) for k in keyframes], device=self.device)
                model.observe_time(float(times.max()))
            with self._autocast():
                poses = self.keyframe_poses(keyframes)
                rays, K = keyframe_rays(batch, keyframes, poses, times)
                out = render_rays(
                    model.callbacks(),
                    rays,
                    self.sampling if guided else self.render_sampling,
                    depth_prior=batch.depth if guided else None,
                    confidence=batch.confidence if guided else None,
                    generator=self.generator,
                    background=self._background(),
                    stratified=True,
                    occupancy=self.occupancy,
                )
            pose_prior = self.poses.regulariser().to(self.device) if self.config.pose_refinement else None
            depth_range = self.sampling.far_m - self.sampling.near_m
            surface = None
            if self.config.surface_photometric_weight > 0:
                images = self.images(keyframes)
                surface = surface_photometric_loss(batch, out.depth.float(), poses.float(), K, images)
            result = objective(
                out,
                batch,
                self.config,
                pose_regulariser=pose_prior,
                depth_range=depth_range,
                surface_photometric=surface,
                model_terms=model.losses(out, self.config),
            )
            total = result.total
            self._set_learning_rates()
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step_count += 1
            terms = {name: float(value.detach()) for name, value in result.terms.items()}
            self.last_stats = StepStats(
                step=self.step_count,
                loss=float(total.detach()),
                terms=terms,
                psnr=float(result.psnr),
                rays=len(batch),
                seconds=time.perf_counter() - start,
            )
            return self.last_stats

    def seconds(self, stamp_ns: int) -> float:
        """Seconds from the first keyframe to ``stamp_ns`` (time-conditioned models' clock)."""
        return (stamp_ns - (self.time_origin_ns if self.time_origin_ns is not None else stamp_ns)) * 1e-9

    def _measure_occupancy(self, model: Model) -> None:
        assert self.occupancy is not None and self.render_sampling is not None
        step_m = marching_step(self.render_sampling.near_m, self.render_sampling.far_m, self.config.march_candidates)
        diagonal = float(torch.linalg.vector_norm(self.occupancy.cell_size))
        model.eval()
        with self._autocast():
            self.occupancy.update(
                lambda x: model.occupancy_opacity(x, step_m=step_m, cell_diagonal_m=diagonal), generator=self.generator
            )

    def _set_learning_rates(self) -> None:
        assert self.optimizer is not None
        factor = learning_rate_factor(self.config, self.step_count)
        poses_on = self.step_count >= self.config.pose_refine_start
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor if poses_on or group.get("name") != "pose" else 0.0

    def refine_depth(self) -> int:
        """One depth-refinement round over the buffered keyframes; returns the number of pixels replaced."""
        with self.lock:
            model = self.build()
            assert self.render_sampling is not None
            keyframes = self._snapshot()
            poses = self.keyframe_poses(keyframes).detach()
            replaced = 0
            model.eval()
            with self._autocast():
                refined = refine_keyframes(
                    model.callbacks(), keyframes, poses, self.render_sampling, self.config, time_of=self.seconds
                )
                for keyframe, count in refined:
                    if count and self.buffer.replace(keyframe):
                        replaced += count
            self.refined_pixels += replaced
            return replaced

    def train(self, *, max_steps: int | None = None, budget_s: float | None = None) -> TrainSummary:
        """Train for ``max_steps`` more steps and/or ``budget_s`` seconds, whichever ends first."""
        if max_steps is None and budget_s is None:
            raise TrainingError("train() needs max_steps and/or budget_s, or it would never stop")
        if (max_steps is not None and max_steps < 0) or (budget_s is not None and budget_s < 0):
            raise TrainingError(f"max_steps and budget_s must be >= 0, got {max_steps} and {budget_s}")
        start, steps, rays, last, refined = time.perf_counter(), 0, 0, None, self.refined_pixels
        while (max_steps is None or steps < max_steps) and (budget_s is None or time.perf_counter() - start < budget_s):
            last = self.step()
            steps, rays = steps + 1, rays + last.rays
        seconds = time.perf_counter() - start
        return TrainSummary(steps, seconds, rays / seconds if seconds > 0 else 0.0, last, self.refined_pixels - refined)

    def start(self, *, on_thread_start: Callable[[], object] | None = None) -> None:
        """Train on a background thread until :meth:`stop` (idle while the buffer is empty); ``on_thread_start``
        runs first on that thread."""
        self.loop.start(on_start=on_thread_start)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop background training; re-raises, as :class:`TrainingError`, what made it fail."""
        self.loop.stop(timeout_s)

    @property
    def running(self) -> bool:
        """Whether background training runs."""
        return self.loop.running

    # -- queries ---------------------------------------------------------------------------------
    def render(
        self,
        K: ArrayLike,
        T_world_camera: ArrayLike,
        width: int,
        height: int,
        *,
        depth_prior: ArrayLike | None = None,
        confidence: ArrayLike | None = None,
        stamp_ns: int | None = None,
    ) -> RenderedView:
        """Render any view with the current model; an optional prior (H, W) Z in metres guides the sampling.

        ``stamp_ns`` is the view's time for time-conditioned models (None: the latest state; after the
        covered span, the last state).

        Background work waits until the render is done: renders come first."""
        with self.turns.render():
            if self.model is None or self.sampling is None or self.render_sampling is None:
                raise TrainingError("the model is not built yet: add keyframes and train at least one step")
            with self._autocast():
                return render_view(
                    self.model,
                    K,
                    T_world_camera,
                    width,
                    height,
                    sampling=self.render_sampling if depth_prior is None else self.sampling,
                    device=self.device,
                    chunk=self.config.render_chunk,
                    time_s=None if stamp_ns is None else self.seconds(stamp_ns),
                    depth_prior=depth_prior,
                    confidence=confidence,
                    background=self._background(),
                    occupancy=self.occupancy,
                )

    def render_keyframe(self, keyframe: TrainingKeyframe, *, guided: bool = False) -> RenderedView:
        """A keyframe's view at its (refined, when buffered) pose; ``guided`` samples around its own prior."""
        pose = self.refined_poses().get(keyframe.index, keyframe.T_world_camera)
        depth, confidence = (keyframe.depth, keyframe.confidence) if guided else (None, None)
        return self.render(
            keyframe.K,
            pose,
            keyframe.width,
            keyframe.height,
            depth_prior=depth,
            confidence=confidence,
            stamp_ns=keyframe.stamp_ns,
        )

    def _background(self) -> torch.Tensor | None:
        return None if self.background is None else torch.tensor(self.background, device=self.device)

    @contextlib.contextmanager
    def _autocast(self) -> Iterator[None]:
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.autocast):
            yield

    # -- checkpoints -------------------------------------------------------------------------------
    def save(self, path: Path | str) -> None:
        """Write a checkpoint: configs, bounds, field, optimiser, step, pose corrections and keyframes."""
        from stereo_nerf_core.training.checkpoint import save_checkpoint

        with self.lock:
            save_checkpoint(self, Path(path))

    @classmethod
    def load(cls, path: Path | str, *, device: torch.device | str = "auto") -> Trainer:
        """A trainer restored from :meth:`save`, ready to render (identically) or to continue training."""
        from stereo_nerf_core.training.checkpoint import load_checkpoint

        return load_checkpoint(Path(path), device=device)
