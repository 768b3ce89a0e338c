"""trainer node (lifecycle): keyframes -> continuous training, rendered views, cloud, refined path, mesh.

A thin rclpy shell around :class:`stereo_nerf_core.pipeline.trainer_stage.TrainerStage` (inputs, outputs and
rates are documented there). Lifecycle transitions are symmetric: ``configure`` creates the model (torch and the
GPU are touched only then), the lifecycle publishers, the subscriptions and the services; ``activate`` starts
training and the output threads (training and outputs at SCHED_IDLE, the checkpoint and the executor not) and
enables the publishers; ``deactivate`` stops both; ``cleanup`` destroys what ``configure`` made.

Services (std_srvs/Trigger): ``~/save_checkpoint``, ``~/load_checkpoint`` (``nodes.checkpoint_path``, resumed at
start, rewritten every ``nodes.checkpoint_period_s``), ``~/reset``, ``~/write_mesh`` (``nodes.mesh_path``),
``~/render`` (the latest frame's, now). Inputs are only cached: it never blocks the front-end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.trainer_stage import OUTPUT_KINDS, TrainerStage
from stereo_nerf_ros.node_runtime import NodeRuntime, spin_node
from stereo_nerf_ros.node_specs import SPECS, TRIGGER, message_class

SPEC = SPECS[names.TRAINER]
OUTPUT_STOP_S = 2.0  # longest wait for each output thread when the trainer stops


class TrainerNode(LifecycleNode):
    """Trains the field from keyframes and publishes what it has learnt."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SPEC.name, **kwargs)
        self.runtime = NodeRuntime(self, SPEC, self._cache_frame)
        self.stage = TrainerStage(self.runtime.config, self.runtime.classes)
        self.runtime.diagnostics_extra = lambda: self.stage.health_values(time.monotonic_ns())
        self._outputs: list[threading.Thread] = []
        self._stop_outputs = threading.Event()
        self._pose_subscriptions: list[Any] = []
        self._trigger_services: list[Any] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Create the model, lifecycle publishers, subscriptions and services."""
        try:
            self.stage.configure()
            resumed = self.stage.resume()
        except (StereoNerfError, RuntimeError) as error:
            self.get_logger().error(f"configure failed: {error}")
            return TransitionCallbackReturn.FAILURE
        if resumed is not None:  # a respawned trainer (or a refused file): worth a warning either way
            self.get_logger().warning(f"checkpoint: {resumed}")
        self.runtime.create_publishers()
        self.topic_names = self.runtime.synchronise(names.TRAINER_FRAME_INPUTS, approximate=False)
        pose, keyframe_pose = names.TRAINER_POSE_INPUTS
        self._pose_subscriptions = [
            self.runtime.subscribe(pose, self.stage.accept_pose),
            self.runtime.subscribe(keyframe_pose, self.stage.accept_keyframe_pose),
        ]
        handlers: dict[str, Callable[[], str]] = {
            names.SAVE_CHECKPOINT: lambda: str(self.stage.save_checkpoint(self.runtime.config.nodes.checkpoint_path)),
            names.LOAD_CHECKPOINT: self._load,
            names.RESET: self._reset,
            names.WRITE_MESH: lambda: str(self.stage.write_mesh(self.runtime.config.nodes.mesh_path)),
            names.RENDER: self._render_now,
        }
        trigger = message_class(TRIGGER)
        self._trigger_services = [
            self.create_service(trigger, name, self._service(handler)) for name, handler in handlers.items()
        ]
        self.runtime.start_worker()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start training and the output thread."""
        self.stage.activate(on_training_thread=self.runtime.idle_this_thread)
        self._stop_outputs.clear()
        jobs: list[tuple[str, Callable[[int], object], Callable[[int], float]]] = [
            (f"{kind} outputs", partial(self._publish_due, kind), partial(self.stage.output_wait_s, kinds=(kind,)))
            for kind in OUTPUT_KINDS
        ]
        jobs.append(("automatic checkpoint", self.stage.auto_checkpoint, self.stage.checkpoint_wait_s))
        self._outputs = [threading.Thread(target=self._periodic, args=job, name=job[0], daemon=True) for job in jobs]
        for thread in self._outputs:
            thread.start()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the output thread and training."""
        self._stop_output_thread()
        self.stage.deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy what configure made: services, subscriptions, publishers, the model."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop everything (from any state)."""
        self._stop_output_thread()
        self.stage.deactivate()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self.runtime.stop_worker()
        for service in self._trigger_services:
            self.destroy_service(service)
        for subscription in self._pose_subscriptions:
            self.destroy_subscription(subscription)
        self._trigger_services, self._pose_subscriptions = [], []
        self.runtime.unsubscribe()
        self.runtime.destroy_publishers()
        self.stage.cleanup()

    # -- work ----------------------------------------------------------------------------------
    def _cache_frame(self, item: tuple[Any, ...]) -> dict[str, Any]:
        self.stage.accept_frame(*item, topic_names=self.topic_names)
        return {}

    def _periodic(self, name: str, work: Callable[[int], object], wait_s: Callable[[int], float]) -> None:
        """``work(now_ns)`` whenever ``wait_s`` says, until deactivated (a failure is logged, then retried)."""
        if name != "automatic checkpoint":  # renders and meshes, like training, would take the front-end's CPU
            self.runtime.idle_this_thread()
        while not self._stop_outputs.is_set():
            try:
                work(time.monotonic_ns())
            except (StereoNerfError, ValueError, OSError, RuntimeError) as error:
                self.get_logger().error(f"{name} failed: {error}", throttle_duration_sec=5.0)
            self._stop_outputs.wait(wait_s(time.monotonic_ns()))

    def _publish_due(self, kind: str, now_ns: int) -> None:
        for outputs in self.stage.outputs_due(now_ns, (kind,)):
            self.runtime.publish(outputs)

    def _stop_output_thread(self) -> None:
        self._stop_outputs.set()
        for thread in self._outputs:  # daemon threads: one stuck in a render at SCHED_IDLE must not hold the exit
            thread.join(OUTPUT_STOP_S)
        self._outputs = []

    def _render_now(self) -> str:
        outputs = self.stage.render_latest()
        self.runtime.publish(outputs)
        return f"published {', '.join(sorted(outputs))}" if outputs else "no tracked frame to render yet"

    def _load(self) -> str:
        self.stage.load_checkpoint(path := self.runtime.config.nodes.checkpoint_path)
        return path

    def _reset(self) -> str:
        self.stage.reset()
        return "model, keyframes and cached frames reset"

    def _service(self, handler: Callable[[], str]) -> Callable[[Any, Any], Any]:
        def call(request: Any, response: Any) -> Any:
            try:
                response.message, response.success = handler(), True
            except (StereoNerfError, OSError, ValueError) as error:
                response.success, response.message = False, str(error)
            return response

        return call

    def summary(self) -> str:
        """Counts of frames and keyframes."""
        stage = self.stage
        return (
            f"{self.runtime.summary()}; {stage.keyframes_added} keyframes trained on, "
            f"{stage.keyframes_missing} keyframe poses without their frame, {stage.steps} training steps"
        )

    def shutdown_stage(self) -> None:
        """Stop outputs, training and the worker."""
        self._stop_output_thread()
        self.stage.deactivate()
        self.runtime.stop_worker()


def _configured_and_active() -> TrainerNode:
    node = TrainerNode()
    node.trigger_configure()
    node.trigger_activate()
    return node


def main(args: list[str] | None = None) -> int:
    """Console script ``trainer_node``: configures and activates the lifecycle node, then spins."""
    return spin_node(_configured_and_active, SPEC.name, args)


if __name__ == "__main__":
    raise SystemExit(main())
