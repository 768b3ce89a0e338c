"""trainer node (lifecycle): keyframes -> continuous training, rendered views, cloud, refined path, mesh.

A thin rclpy shell around :class:`stereo_nerf_core.pipeline.trainer_stage.TrainerStage` (inputs,
outputs and rates are documented there). Lifecycle transitions: ``configure`` creates the model
(torch and the GPU are touched only then), ``activate`` starts training on its background thread
and the output timer, ``deactivate`` stops both, ``cleanup`` drops the model. ``main()`` configures
and activates at start-up; ``ros2 lifecycle set /trainer deactivate`` (etc.) controls it later.

Services (std_srvs/Trigger; the paths are the parameters ``nodes.checkpoint_path`` and
``nodes.mesh_path``): ``~/save_checkpoint``, ``~/load_checkpoint``, ``~/reset``, ``~/write_mesh`` and
``~/render`` (publishes the latest frame's rendered depth and colour now, on request).
Inputs are only cached (the keyframe buffer has its own lock), so the trainer never blocks the
front-end; outputs are rendered from a timer in its own callback group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import qos_profile_sensor_data

from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.trainer_stage import TrainerStage
from stereo_nerf_ros.node_runtime import NodeRuntime, spin_node
from stereo_nerf_ros.node_specs import SPECS, TRIGGER, message_class

SPEC = SPECS[names.TRAINER]
OUTPUT_PERIOD_S = 0.05
"""How often the output timer asks which outputs are due (node clock: sim time with a bag)."""


class TrainerNode(LifecycleNode):
    """Trains the field from keyframes and publishes what it has learnt."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(SPEC.name, **kwargs)
        self.runtime = NodeRuntime(self, SPEC, self._cache_frame)
        self.stage = TrainerStage(self.runtime.config, self.runtime.classes)
        self.output_group = MutuallyExclusiveCallbackGroup()
        self._timer: Any = None
        self._worker: Any = None
        self._services: list[Any] = []

    # -- lifecycle -----------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Create the model, publishers, subscriptions and services."""
        try:
            self.stage.configure()
        except (StereoNerfError, RuntimeError) as error:
            self.get_logger().error(f"configure failed: {error}")
            return TransitionCallbackReturn.FAILURE
        self.runtime.create_publishers()
        self.topic_names = self.runtime.synchronise(names.TRAINER_FRAME_INPUTS, approximate=False)
        pose_type = message_class(SPEC.inputs[names.TRAINER_POSE_INPUTS[0]])
        group = self.runtime.worker_group
        self._poses = [
            self.create_subscription(
                pose_type,
                names.TRAINER_POSE_INPUTS[0],
                self.stage.accept_pose,
                qos_profile_sensor_data,
                callback_group=group,
            ),
            self.create_subscription(
                pose_type,
                names.TRAINER_POSE_INPUTS[1],
                self.stage.accept_keyframe_pose,
                qos_profile_sensor_data,
                callback_group=group,
            ),
        ]
        handlers: dict[str, Callable[[], str]] = {
            names.SAVE_CHECKPOINT: lambda: str(self.stage.save_checkpoint(self.runtime.config.nodes.checkpoint_path)),
            names.LOAD_CHECKPOINT: self._load,
            names.RESET: self._reset,
            names.WRITE_MESH: lambda: str(self.stage.write_mesh(self.runtime.config.nodes.mesh_path)),
            names.RENDER: self._render_now,
        }
        trigger = message_class(TRIGGER)
        self._services = [
            self.create_service(trigger, name, self._service(handler), callback_group=self.output_group)
            for name, handler in handlers.items()
        ]
        self._worker = self.runtime.start_worker()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start training and the output timer."""
        self.stage.activate()
        self._timer = self.create_timer(OUTPUT_PERIOD_S, self._outputs, callback_group=self.output_group)
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop training and the output timer."""
        if self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None
        self.stage.deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Drop the model."""
        self.stage.cleanup()
        return TransitionCallbackReturn.SUCCESS

    # -- work ----------------------------------------------------------------------------------
    def _cache_frame(self, item: tuple[Any, ...]) -> dict[str, Any]:
        self.stage.accept_frame(*item, topic_names=self.topic_names)
        return {}

    def _outputs(self) -> None:
        try:
            outputs = self.stage.outputs_due(self.get_clock().now().nanoseconds)
        except (StereoNerfError, ValueError) as error:
            self.get_logger().error(f"rendering the outputs failed: {error}", throttle_duration_sec=5.0)
            return
        self.runtime.publish(outputs)

    def _render_now(self) -> str:
        outputs = self.stage.render_latest()
        self.runtime.publish(outputs)
        return f"published {', '.join(sorted(outputs))}" if outputs else "no tracked frame to render yet"

    def _load(self) -> str:
        path = self.runtime.config.nodes.checkpoint_path
        self.stage.load_checkpoint(path)
        return path

    def _reset(self) -> str:
        self.stage.reset()
        return "model, keyframes and cached frames reset"

    def _service(self, handler: Callable[[], str]) -> Callable[[Any, Any], Any]:
        def call(request: Any, response: Any) -> Any:
            try:
                response.message = handler()
                response.success = True
            except (StereoNerfError, OSError, ValueError) as error:
                response.success, response.message = False, str(error)
            return response

        return call

    def summary(self) -> str:
        """Counts of frames and keyframes."""
        stage = self.stage
        return (
            f"{self.runtime.summary()}; {stage.keyframes_added} keyframes trained on, "
            f"{stage.keyframes_missing} keyframe poses without their frame"
        )

    def shutdown_stage(self) -> None:
        """Stop training."""
        self.stage.deactivate()


def _configured_and_active() -> TrainerNode:
    node = TrainerNode()
    node.trigger_configure()
    node.trigger_activate()
    return node


def main(args: list[str] | None = None) -> int:
    """Console script ``trainer_node``: configures and activates the lifecycle node, then spins."""
    return spin_node(_configured_and_active, SPEC.name, args, threads=4)


if __name__ == "__main__":
    raise SystemExit(main())
