"""Online training of a model (:mod:`~stereo_nerf_core.models`, by ``trainer.mode``) from a growing keyframe buffer.

A :class:`Trainer` owns the keyframe buffer, the model (built on the first step from the keyframes
then buffered: scene bounds, depth range and field defaults come from them, see
:mod:`~stereo_nerf_core.training.setup`), its Adam optimiser (hash tables and networks with their own
learning rates) and the optional per-keyframe pose corrections. :meth:`Trainer.step` trains one ray
batch; :meth:`Trainer.train` runs for a number of steps and/or seconds; :meth:`Trainer.start` runs
steps on a background thread while the front-end keeps calling :meth:`Trainer.add_keyframe`, and
:meth:`Trainer.render` answers queries at any time. One re-entrant lock serialises steps, renders,
refinement and checkpoints, so a query sees the model between two steps, never during one.

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
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.devices import resolve_device
from stereo_nerf_core.models.base import Model
from stereo_nerf_core.models.registry import build_model, model_class
from stereo_nerf_core.render.occupancy import OccupancyGrid, marching_step
from stereo_nerf_core.render.rays import RayBundle
from stereo_nerf_core.render.renderer import RenderOutput, SamplingConfig, render_image, render_rays
from stereo_nerf_core.training.background import BackgroundLoop
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import KeyframeBuffer, TrainingKeyframe
from stereo_nerf_core.training.objective import objective
from stereo_nerf_core.training.poses import PoseCorrections
from stereo_nerf_core.training.rays_batch import BatchOptions, RayBatchSampler, batch_rays
from stereo_nerf_core.training.refinement import refine_keyframe_depth
from stereo_nerf_core.training.results import RenderedView, StepStats, TrainSummary
from stereo_nerf_core.training.scene_bounds import SceneBounds, bounds_from_keyframes
from stereo_nerf_core.training.setup import (
    FieldConfig,
    default_field_config,
    pose_translation_scale,
    scene_sampling,
)
from stereo_nerf_core.training.surface_photometric import surface_photometric_loss


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
        self._image_cache: dict[int, tuple[TrainingKeyframe, torch.Tensor]] = {}
        """Occupancy grid of prior-less rays (measured from ``occupancy_warmup_steps`` on)."""
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
        patches = config.ssim_patches if config.ssim_weight > 0 else 0
        options = BatchOptions(
            rays=config.rays_per_batch,
            mask_guide_sample_rate=config.mask_guide_sample_rate,
            recency_share=config.recency_share,
            recency_window=config.recency_window,
            binocular=config.binocular,
            patches=patches,
            patch_px=config.ssim_patch_px,
        )
        self.sampler = RayBatchSampler(options, seed=config.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.autocast = config.mixed_precision and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast)
        self.lock = threading.RLock()
        """Held during every step, render, refinement round and checkpoint."""
        self._renders_waiting = 0
        """Renders asking for the model: background work (training steps, mesh chunks) waits for them. A lock
        is not fair: the training thread would take it back after every step and starve the renders."""
        self._renders_done = threading.Condition()
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

    @contextlib.contextmanager
    def _render_turn(self) -> Iterator[None]:
        """The model for a render, before any background work that is waiting for it."""
        with self._renders_done:
            self._renders_waiting += 1
        try:
            with self.lock:
                yield
        finally:
            with self._renders_done:
                self._renders_waiting -= 1
                self._renders_done.notify_all()

    @contextlib.contextmanager
    def background_turn(self) -> Iterator[None]:
        """The model for one slice of background work (a training step, a chunk of a mesh), after the renders
        that wait for it: renders come first."""
        with self._renders_done:
            self._renders_done.wait_for(lambda: self._renders_waiting == 0)
        with self.lock:
            yield

    def build(self) -> Model:
        """Build the model from the buffered keyframes (the first step does it when not called)."""
        with self.lock:
            if self.model is not None:
                return self.model
            keyframes = self._snapshot()
            config = self.config
            if self.bounds is None:
                self.bounds = bounds_from_keyframes(keyframes, padding=config.bounds_padding, seed=config.seed)
            self.sampling = scene_sampling(self.bounds, keyframes, config, self.base_sampling)
            coarse = replace(self.sampling, uniform_count=config.coarse_samples)
            marching = {"march_candidates": config.march_candidates, "march_max_samples": config.march_max_samples}
            self.sampling = replace(self.sampling, **marching)
            self.render_sampling = replace(self.sampling if self.base_sampling is not None else coarse, **marching)
            if config.occupancy_resolution:
                low, high = (torch.tensor(v, dtype=torch.float32) for v in (self.bounds.minimum, self.bounds.maximum))
                self.occupancy = OccupancyGrid(
                    low, high, resolution=config.occupancy_resolution, threshold=config.occupancy_threshold
                ).to(self.device)
            if self.field_config is None:
                self.field_config = default_field_config(config, self.bounds, keyframes)
            model = build_model(
                config.mode,
                self.field_config,
                bounds_min=self.bounds.minimum.tolist(),
                bounds_max=self.bounds.maximum.tolist(),
                seed=config.seed,
            )
            model.initialise(self.sampling)
            self.model = model.to(self.device)
            self.poses.translation_scale = pose_translation_scale(self.bounds, keyframes)
            self.poses.to(self.device)
            groups = model.parameter_groups(lr_hash=config.lr_hash, lr_network=config.lr_network)
            self.optimizer = torch.optim.Adam(groups, betas=(0.9, 0.99), eps=1e-15, foreach=True)
            return self.model

    def _snapshot(self) -> tuple[TrainingKeyframe, ...]:
        keyframes = self.buffer.snapshot()
        if not keyframes:
            raise TrainingError("the keyframe buffer is empty: add keyframes before training or rendering")
        return keyframes

    def register_pose(self, index: int) -> None:
        """Give keyframe ``index`` a pose correction in the optimiser (pose refinement)."""
        assert self.optimizer is not None
        parameter = self.poses.register(index)
        if parameter is not None:
            parameter.data = parameter.data.to(self.device)
            lr = self.config.lr_pose
            self.optimizer.add_param_group({"params": [parameter], "lr": lr, "initial_lr": lr, "name": "pose"})

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
            if self._refinement_due():
                self.refine_depth()
            keyframes = self._snapshot()
            assert self.optimizer is not None and self.sampling is not None and self.render_sampling is not None
            if self.config.pose_refinement:
                for keyframe in keyframes:
                    self.register_pose(keyframe.index)
            self._update_occupancy(model)
            batch = self.sampler.sample(keyframes).to(self.device)
            K = torch.tensor(np.stack([k.K for k in keyframes]), dtype=torch.float32, device=self.device)
            baselines = torch.tensor([k.baseline_m or 0.0 for k in keyframes], device=self.device)
            model.train()
            # Rays with a prior are sampled around it (prior-less rays in such a batch get uniform samples);
            # a batch without any prior (a scene without stereo) gets the coarse + importance passes.
            guided = bool(((batch.depth > 0) & (batch.confidence > 0)).any())
            with self._autocast():
                poses = self.keyframe_poses(keyframes)
                rays = batch_rays(batch, K, poses, baselines)
                if model.time_conditioned:
                    times = torch.tensor([self.seconds(k.stamp_ns) for k in keyframes], device=self.device)
                    rays.times = times[batch.slot]
                    model.observe_time(float(times.max()))
                out = self.render_rays(
                    model,
                    rays,
                    self.sampling if guided else self.render_sampling,
                    depth_prior=batch.depth if guided else None,
                    confidence=batch.confidence if guided else None,
                )
            pose_prior = self.poses.regulariser().to(self.device) if self.config.pose_refinement else None
            depth_range = self.sampling.far_m - self.sampling.near_m
            surface = None
            if self.config.surface_photometric_weight > 0:
                images = self._left_images(keyframes)
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

    def _left_images(self, keyframes: tuple[TrainingKeyframe, ...]) -> torch.Tensor:
        """(S, 3, H, W) left colours in [0, 1] of ``keyframes`` on the device (cached per keyframe object)."""
        cache = self._image_cache
        images = []
        for keyframe in keyframes:
            cached = cache.get(keyframe.index)
            if cached is None or cached[0] is not keyframe:
                tensor = torch.from_numpy(keyframe.rgb).to(self.device).permute(2, 0, 1).float() / 255.0
                cached = cache[keyframe.index] = (keyframe, tensor)
            images.append(cached[1])
        for index in set(cache) - {k.index for k in keyframes}:
            del cache[index]
        return torch.stack(images)

    def seconds(self, stamp_ns: int) -> float:
        """Seconds from the first keyframe to ``stamp_ns`` (time-conditioned models' clock)."""
        return (stamp_ns - (self.time_origin_ns if self.time_origin_ns is not None else stamp_ns)) * 1e-9

    def render_rays(
        self,
        model: Model,
        rays: RayBundle,
        sampling: SamplingConfig,
        *,
        depth_prior: torch.Tensor | None,
        confidence: torch.Tensor | None,
    ) -> RenderOutput:
        """Training rays through ``model`` (jittered samples, the trainer's generator, background and grid)."""
        return render_rays(
            model.callbacks(),
            rays,
            sampling,
            depth_prior=depth_prior,
            confidence=confidence,
            generator=self.generator,
            background=self._background(),
            stratified=True,
            occupancy=self.occupancy,
        )

    def _update_occupancy(self, model: Model) -> None:
        config, since = self.config, self.step_count - self.config.occupancy_warmup_steps
        if self.occupancy is None or self.render_sampling is None or since < 0:
            return
        if since % config.occupancy_update_period:
            return
        sampling = self.render_sampling
        step_m = marching_step(sampling.near_m, sampling.far_m, config.march_candidates)
        model.eval()
        diagonal = float(torch.linalg.vector_norm(self.occupancy.cell_size))
        with self._autocast():
            self.occupancy.update(
                lambda x: model.occupancy_opacity(x, step_m=step_m, cell_diagonal_m=diagonal), generator=self.generator
            )

    def _set_learning_rates(self) -> None:
        assert self.optimizer is not None
        steps = self.config.lr_decay_steps
        factor = 0.1 ** (self.step_count / steps) if steps else 1.0
        poses_on = self.step_count >= self.config.pose_refine_start
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor if poses_on or group.get("name") != "pose" else 0.0

    def _refinement_due(self) -> bool:
        config = self.config
        since = self.step_count - config.depth_refine_start
        period = config.depth_refine_period
        return (
            config.depth_refine_rounds > 0
            and since >= 0
            and since % period == 0
            and (since // period < config.depth_refine_rounds)
        )

    def refine_depth(self) -> int:
        """One depth-refinement round over the buffered keyframes; returns the number of pixels replaced."""
        with self.lock:
            model = self.build()
            assert self.render_sampling is not None
            keyframes = self._snapshot()
            poses = self.keyframe_poses(keyframes).detach()
            replaced = 0
            model.eval()
            with torch.no_grad(), self._autocast():
                for keyframe, pose in zip(keyframes, poses, strict=True):
                    refined, count = refine_keyframe_depth(
                        model.callbacks(),
                        keyframe,
                        pose,
                        self.render_sampling,
                        self.config,
                        chunk=self.config.render_chunk,
                        time_s=self.seconds(keyframe.stamp_ns),
                    )
                    if count and self.buffer.replace(refined):
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
        with self._render_turn():
            if self.model is None or self.sampling is None or self.render_sampling is None:
                raise TrainingError("the model is not built yet: add keyframes and train at least one step")
            model = self.model
            model.eval()
            K_t = torch.as_tensor(np.asarray(K, np.float64), dtype=torch.float32, device=self.device)
            T_t = torch.as_tensor(np.asarray(T_world_camera, np.float64), dtype=torch.float32, device=self.device)
            prior = None if depth_prior is None else _flat(depth_prior, height, width, self.device)
            weight = None if prior is None else torch.ones_like(prior)
            if prior is not None and confidence is not None:
                weight = _flat(confidence, height, width, self.device)
            with torch.no_grad(), self._autocast():
                sampling = self.render_sampling if prior is None else self.sampling
                out = render_image(
                    model.callbacks(),
                    K_t,
                    T_t,
                    width,
                    height,
                    sampling,
                    chunk=self.config.render_chunk,
                    time_s=None if stamp_ns is None else self.seconds(stamp_ns),
                    depth_prior=prior,
                    confidence=weight,
                    background=self._background(),
                    occupancy=self.occupancy,
                )
            return RenderedView(
                depth=out.depth.float().reshape(height, width).cpu().numpy(),
                rgb=out.rgb.float().reshape(height, width, 3).clamp(0, 1).cpu().numpy(),
                opacity=out.opacity.float().reshape(height, width).cpu().numpy(),
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


def _flat(values: ArrayLike, height: int, width: int, device: torch.device) -> torch.Tensor:
    array = np.asarray(values, dtype=np.float32)
    if array.shape != (height, width):
        raise TrainingError(f"a guiding prior must be (H, W) = {(height, width)}, got {array.shape}")
    return torch.from_numpy(np.nan_to_num(array, nan=0.0).reshape(-1).copy()).to(device)
