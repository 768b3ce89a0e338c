"""ROS-free logic of the trainer node: keyframes in, rendered views, cloud, refined path and mesh out.

Life cycle (a lifecycle node's transitions call these): :meth:`TrainerStage.configure` creates the
:class:`~stereo_nerf_core.training.trainer.Trainer` (torch is imported then, never at import or
construction; the field itself is built by the first training step, from the first keyframes),
:meth:`activate` / :meth:`deactivate` start and stop training on its background thread,
:meth:`cleanup` drops the model.

Inputs: every frame (depth_prior's depth, confidence and mask, stereo_frontend's rectified left image and
rectified left and right camera_info) is kept in a small cache (``nodes.frame_cache``) until the tracker publishes the
frame's pose: on ``~/keyframe_pose`` the frame becomes a training keyframe, on ``~/pose`` the
latest frame to render. Taking inputs never waits for training (the keyframe buffer has its own
lock), so the trainer never blocks the front-end.

Outputs, each at most at its rate (by message stamps, see :class:`RateGate`):

* ``~/rendered/depth`` (32FC1, metres, NaN where transparent) and ``~/rendered/image`` (rgb8) of the
  latest frame at ``1 / nodes.render_downscale`` size, rectified left optical frame, its stamp;
* ``~/cloud``: PointCloud2 (xyz, rgb) in ``world`` of the newest ``nodes.cloud_keyframes`` keyframes'
  renders (opacity >= ``nodes.cloud_min_opacity``), and ``~/refined_path``: the keyframes' refined poses;
* ``~/mesh``: Marker TRIANGLE_LIST in ``world`` (marching cubes at ``nodes.mesh_resolution``).

Services as plain methods: :meth:`save_checkpoint`, :meth:`load_checkpoint`, :meth:`reset`, :meth:`write_mesh`.
Recovery: :meth:`resume` loads ``nodes.checkpoint_path`` at start (a corrupt file is set aside) and
:meth:`auto_checkpoint` rewrites it every ``nodes.checkpoint_period_s`` while training moves on.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.messages import MessageClasses, image_to_array, image_to_rgb, pose_to_matrix
from stereo_nerf_core.io.messages import stamp_ns as header_ns
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.backpressure import RateGate
from stereo_nerf_core.pipeline.errors import PipelineError
from stereo_nerf_core.pipeline.node_stages import RectifiedCalibrations
from stereo_nerf_core.pipeline.trainer_outputs import CachedFrame, mesh_marker, rendered_frame, scene_cloud

if TYPE_CHECKING:
    from stereo_nerf_core.training.trainer import Trainer

F64 = NDArray[np.float64]
OUTPUT_KINDS = ("render", "scene")
"""The trainer's periodic outputs: renders of the latest frame; the scene (cloud, refined path, mesh)."""


def _load_lazy_libraries() -> None:
    """Import now what the first training step and the first mesh would import (torch's optimiser machinery,
    marching cubes): at the trainer's background priority these imports alone delayed the first render by
    seconds while the front-end was busy."""
    import torch

    from stereo_nerf_core.training import export  # noqa: F401

    parameter = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.Adam([parameter])
    parameter.sum().backward()
    optimiser.step()


class TrainerStage:
    """trainer (see the module docstring)."""

    name = names.TRAINER

    def __init__(self, config: PipelineConfig, classes: MessageClasses, *, device: str = "auto") -> None:
        self.config = config
        self.classes = classes
        self.device = device
        self.trainer: Trainer | None = None
        self.frames: OrderedDict[int, CachedFrame] = OrderedDict()
        self.pending: OrderedDict[int, Any] = OrderedDict()
        """Keyframe poses that came before their frame, by stamp."""
        self.latest: tuple[int, F64] | None = None
        """Stamp and pose of the latest tracked frame."""
        self.world_frame = topics.WORLD_FRAME
        """The frame of the tracker's poses (the cloud, path and mesh are published in it)."""
        nodes = config.nodes
        self.render_gate = RateGate(nodes.render_rate_hz, name="nodes.render_rate_hz")
        self.cloud_gate = RateGate(nodes.cloud_rate_hz, name="nodes.cloud_rate_hz")
        self.mesh_gate = RateGate(nodes.mesh_rate_hz, name="nodes.mesh_rate_hz")
        self.keyframes_added = 0
        self.keyframes_missing = 0
        """Keyframe poses given up on: their frame had left the cache or never came."""
        self.outputs_skipped: dict[str, str] = {}
        """Output topic -> why it was last skipped (no model yet, no surface yet)."""
        self.calibrations = RectifiedCalibrations()
        self.checkpoint_gate = RateGate(
            1.0 / nodes.checkpoint_period_s if nodes.checkpoint_period_s > 0 else 0.0, name="nodes.checkpoint_period_s"
        )
        self.checkpoint_step = -1
        """Training step of the last checkpoint written (automatic or asked for)."""
        self.checkpoint_time_ns: int | None = None
        """Monotonic time of the last checkpoint written or resumed from."""
        self._health_steps: tuple[int, int] | None = None
        self._lock = threading.RLock()
        """Guards the caches and the trainer reference (never held while training or rendering)."""

    # -- life cycle ----------------------------------------------------------------------------
    def configure(self) -> None:
        """Create the trainer (imports torch; the field is built on the first training step)."""
        from stereo_nerf_core.training.trainer import Trainer

        _load_lazy_libraries()
        self.trainer = Trainer(self.config.trainer, device=self.device)

    def activate(self, *, on_training_thread: Callable[[], object] | None = None) -> None:
        """Train continuously on the background thread (idle while there are no keyframes); ``on_training_thread``
        runs first on it (the node lowers that thread's priority)."""
        self._model().start(on_thread_start=on_training_thread)

    def deactivate(self) -> None:
        """Stop background training (re-raises, as TrainingError, what made it fail)."""
        if self.trainer is not None and self.trainer.running:
            self.trainer.stop()

    def cleanup(self) -> None:
        """Stop and drop the model and every cached frame."""
        self.deactivate()
        with self._lock:
            self.trainer = None
            self.frames.clear()
            self.pending.clear()
            self.latest = None

    @property
    def steps(self) -> int:
        """Training steps taken so far (0 before configure)."""
        return 0 if self.trainer is None else self.trainer.step_count

    def _model(self) -> Trainer:
        if self.trainer is None:
            raise PipelineError("trainer: not configured (call configure() / the lifecycle 'configure' transition)")
        return self.trainer

    # -- inputs (never wait for training) --------------------------------------------------------
    def accept_frame(
        self,
        depth_msg: Any,
        confidence_msg: Any,
        mask_msg: Any,
        image_msg: Any,
        left_info: Any,
        right_info: Any,
        *,
        topic_names: tuple[str, ...] = names.TRAINER_FRAME_INPUTS,
    ) -> None:
        """Cache one depth_prior frame until the tracker gives its pose."""
        calibration = self.calibrations.get(left_info, right_info, topics_=(topic_names[4], topic_names[5]))
        depth = image_to_array(depth_msg, topic=topic_names[0]).astype(np.float32)
        frame = CachedFrame(
            stamp_ns=header_ns(image_msg.header),
            rgb=image_to_rgb(image_msg, topic=topic_names[3]),
            depth=np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32),
            confidence=np.nan_to_num(image_to_array(confidence_msg, topic=topic_names[1]).astype(np.float32)),
            valid=image_to_array(mask_msg, topic=topic_names[2]) > 0,
            K=calibration.K_rect,
            baseline_m=calibration.baseline_m,
        )
        with self._lock:
            self.frames[frame.stamp_ns] = frame
            while len(self.frames) > self.config.nodes.frame_cache:
                self.frames.popitem(last=False)
            waiting = self.pending.pop(frame.stamp_ns, None)
            if waiting is not None:
                self.accept_keyframe_pose(waiting)

    def accept_keyframe_pose(self, msg: Any) -> bool:
        """Turn the cached frame of a keyframe pose into a training keyframe; False when the frame is not here
        yet (the pose waits for it, up to ``nodes.frame_cache`` poses; older waiting ones are counted missing)."""
        from stereo_nerf_core.training.keyframes import TrainingKeyframe

        stamp = header_ns(msg.header)
        with self._lock:
            frame = self.frames.get(stamp)
            if frame is None:
                self.pending[stamp] = msg
                while len(self.pending) > self.config.nodes.frame_cache:
                    self.pending.popitem(last=False)
                    self.keyframes_missing += 1
                return False
            keyframe = TrainingKeyframe(
                index=self.keyframes_added,
                stamp_ns=stamp,
                rgb=frame.rgb,
                depth=frame.depth,
                confidence=frame.confidence,
                valid=frame.valid,
                K=frame.K,
                T_world_camera=pose_to_matrix(msg.pose),
            )
            self._model().add_keyframe(keyframe)  # the buffer's own lock: never waits for a training step
            self.keyframes_added += 1
            return True

    def accept_pose(self, msg: Any) -> None:
        """The latest tracked frame (what ``~/rendered/*`` shows)."""
        with self._lock:
            self.latest = (header_ns(msg.header), pose_to_matrix(msg.pose))
            self.world_frame = str(msg.header.frame_id) or topics.WORLD_FRAME

    # -- outputs -------------------------------------------------------------------------------
    def outputs_due(self, now_ns: int, kinds: Collection[str] = OUTPUT_KINDS) -> Iterator[dict[str, Any]]:
        """The outputs of ``kinds`` ("render": the latest frame; "scene": cloud, refined path and mesh) whose rate
        allows one at ``now_ns`` (a steady clock: pacing only) and that the model can give yet, cheapest first,
        each as soon as it is computed; renders carry their frame's stamp, the scene the latest frame's. The
        node works the two kinds off on two threads, so a mesh never holds a render back."""
        trainer = self.trainer
        if trainer is None or trainer.model is None:
            for topic in names.TRAINER_OUTPUTS:
                self.outputs_skipped[topic] = "no model yet (no keyframe trained)"
            return
        if "render" in kinds and self._latest_frame() is not None and self.render_gate.due(now_ns):
            yield self.render_latest()
        stamp = self._scene_stamp()
        if "scene" in kinds and self.cloud_gate.due(now_ns):
            yield self.cloud(stamp)
        if "scene" in kinds and self.mesh_gate.due(now_ns):
            marker = self.mesh_marker(stamp)
            if marker is not None:
                yield {names.MESH: marker}

    def _scene_stamp(self) -> int:
        """The stamp of the cloud, path and mesh: the latest tracked frame's (else the newest keyframe's)."""
        with self._lock:
            if self.latest is not None:
                return self.latest[0]
        trainer = self.trainer
        keyframes = trainer.buffer.snapshot() if trainer is not None else ()
        return max((k.stamp_ns for k in keyframes), default=0)

    def output_wait_s(self, now_ns: int, kinds: Collection[str] = OUTPUT_KINDS, *, idle_s: float = 0.1) -> float:
        """Seconds until :meth:`outputs_due` may next give outputs of ``kinds`` (``idle_s`` while there is no model)."""
        trainer = self.trainer
        if trainer is None or trainer.model is None:
            return idle_s
        gates = ([self.render_gate] if "render" in kinds else []) + (
            [self.cloud_gate, self.mesh_gate] if "scene" in kinds else []
        )
        waits = [w for gate in gates if (w := gate.wait_ns(now_ns)) is not None]
        return max(0.05, min(waits) / 1e9) if waits else idle_s

    def _latest_frame(self) -> tuple[int, F64, CachedFrame] | None:
        with self._lock:
            if self.latest is None or self.latest[0] not in self.frames:
                return None
            return (*self.latest, self.frames[self.latest[0]])

    def render_latest(self) -> dict[str, Any]:
        """``~/rendered/depth`` and ``~/rendered/image`` of the latest frame, guided by its prior ({} without one)."""
        latest = self._latest_frame()
        if latest is None:
            return {}
        _, T_world_camera, frame = latest
        downscale = self.config.nodes.render_downscale
        return rendered_frame(self._model(), self.classes, frame, T_world_camera, downscale=downscale)

    def cloud(self, stamp_ns: int) -> dict[str, Any]:
        """``~/cloud`` (world points of the newest keyframes' renders) and ``~/refined_path``."""
        nodes = self.config.nodes
        return scene_cloud(self._model(), self.classes, nodes, stamp_ns=stamp_ns, world_frame=self.world_frame)

    def mesh_marker(self, stamp_ns: int) -> Any | None:
        """``~/mesh`` of the current field, or None while the field has no surface yet (the reason is kept)."""
        from stereo_nerf_core.training.errors import TrainingError

        resolution = self.config.nodes.mesh_resolution
        try:
            return mesh_marker(
                self._model(), self.classes, resolution=resolution, stamp_ns=stamp_ns, world_frame=self.world_frame
            )
        except TrainingError as error:
            self.outputs_skipped[names.MESH] = str(error)
            return None

    # -- services ------------------------------------------------------------------------------
    def save_checkpoint(self, path: Path | str) -> Path:
        """Write the model, optimiser, keyframes and poses to ``path`` (atomically)."""
        trainer = self._model()
        started = time.monotonic_ns()  # its age is its content's: what arrives while it is written is not in it
        trainer.save(path)
        self.checkpoint_step, self.checkpoint_time_ns = trainer.step_count, started
        return Path(path)

    def auto_checkpoint(self, now_ns: int) -> Path | None:
        """Save to ``nodes.checkpoint_path`` when ``nodes.checkpoint_period_s`` has passed and training has moved
        on since the last one; the path written, else None."""
        trainer = self.trainer
        if trainer is None or trainer.model is None or trainer.step_count == self.checkpoint_step:
            return None
        if not self.checkpoint_gate.due(now_ns):
            return None
        return self.save_checkpoint(self.config.nodes.checkpoint_path)

    def checkpoint_wait_s(self, now_ns: int) -> float:
        """Seconds until the next automatic checkpoint may be due (1 s when they are off)."""
        wait = self.checkpoint_gate.wait_ns(now_ns)
        return 1.0 if wait is None else max(wait * 1e-9, 0.05)

    def health_values(self, now_ns: int) -> dict[str, str]:
        """The trainer's own /diagnostics values: keyframes held and the newest one's stamp, steps per second
        since the last call, latest loss, and the age of the last checkpoint (written or resumed from) in s."""
        trainer = self.trainer
        steps = 0 if trainer is None else trainer.step_count
        previous = self._health_steps
        self._health_steps = (now_ns, steps)
        rate = (steps - previous[1]) / max((now_ns - previous[0]) * 1e-9, 1e-9) if previous is not None else 0.0
        stats = None if trainer is None else trainer.last_stats
        age = "" if self.checkpoint_time_ns is None else f"{(now_ns - self.checkpoint_time_ns) * 1e-9:.0f}"
        held = () if trainer is None else trainer.buffer.snapshot()
        return {
            "keyframes_held": str(len(held)),
            "newest_keyframe_stamp_ns": str(max(k.stamp_ns for k in held)) if held else "",
            "steps": str(steps),
            "steps_per_second": f"{rate:.2f}",
            "loss": "" if stats is None else f"{stats.loss:.5f}",
            "checkpoint_age_s": age,
        }

    def resume(self) -> str | None:
        """Load ``nodes.checkpoint_path`` when it exists (a restarted trainer goes on); what happened, or None.

        A cut-off or corrupt file is refused: it is renamed ``<name>.corrupt-<UTC time>`` beside itself, and
        training starts fresh.
        """
        from stereo_nerf_core.training.errors import TrainingError

        self.checkpoint_gate.last_ns = time.monotonic_ns()  # the first automatic one a period from now
        path = Path(self.config.nodes.checkpoint_path)
        if not path.exists():
            return None
        try:
            self.load_checkpoint(path)
        except TrainingError as error:
            kept = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
            path.replace(kept)
            return f"refused {error}; kept it as {kept.name}, training starts fresh"
        trainer = self._model()
        self.checkpoint_step, self.checkpoint_time_ns = trainer.step_count, time.monotonic_ns()
        return f"resumed from {path}: step {trainer.step_count}, {len(trainer.buffer)} keyframes"

    def load_checkpoint(self, path: Path | str) -> None:
        """Replace the model by a checkpoint (training restarts if it was running)."""
        from stereo_nerf_core.training.trainer import Trainer

        loaded = Trainer.load(path, device=self.device)
        running = self.trainer is not None and self.trainer.running
        self.deactivate()
        with self._lock:
            self.trainer = loaded
            self.keyframes_added = max((k.index + 1 for k in loaded.buffer.snapshot()), default=0)
        if running:
            self.activate()

    def reset(self) -> None:
        """Forget the model, keyframes and cached frames; a fresh trainer (running if it was) starts over."""
        running = self.trainer is not None and self.trainer.running
        self.cleanup()
        with self._lock:
            self.keyframes_added = 0
            self.configure()
        if running:
            self.activate()

    def write_mesh(self, path: Path | str) -> Path:
        """Write the current mesh as PLY (vertex colours, world frame, metres); TrainingError without a surface."""
        from stereo_nerf_core.training.export import extract_mesh, write_mesh

        return write_mesh(extract_mesh(self._model(), resolution=self.config.nodes.mesh_resolution), path)
