"""The rclpy glue every node shares (imports rclpy): parameters, inputs, queue, worker, publishers.

A node owns one :class:`NodeRuntime`: it declares and reads the node's parameter groups, builds the
publishers of its :class:`~stereo_nerf_ros.node_specs.NodeSpec` (lifecycle publishers in a lifecycle node),
synchronises inputs with message_filters and parks each complete set in a drop-oldest queue
(``nodes.queue_size``). A worker thread sleeps until a set arrives, calls the stage and publishes what it
returns: nothing polls, so an idle node uses no CPU. Bad input (sets that cannot be processed, stamps that
jump back, a silent partner, a burst) is logged once per cause naming the topic, counted and survived: see
:mod:`stereo_nerf_ros.input_guard`.

QoS: the driver's topics (the raw pair) with ``qos_profile_sensor_data``; the graph's own topics reliable
(outputs keep ``OUTPUT_QUEUE_DEPTH``, inputs ``sync.queue_size``), so a set is never lost between nodes;
``/tf_static`` reliable and transient local. Without tf2_msgs, /tf and /tf_static are left out, said once.

Background nodes (the matcher and the trainer) run every thread at ``nodes.background_niceness``, and the
threads that compute without bound (the matcher's worker, the trainer's training loop and outputs) with
``nodes.background_idle`` also at SCHED_IDLE, so the front-end always gets the CPU first. The executor and DDS
threads never go idle: Fast DDS drops a shared-memory port whose listener does not answer its health check within
a second, and a respawned trainer whose listeners starved at SCHED_IDLE on a busy CPU never received a message
again. OpenCV runs
``nodes.cv_threads`` threads per node (depth_prior: ``depth_prior.threads``): one process per node is already
parallel, and OpenCV's idle workers spin.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rclpy
from message_filters import ApproximateTimeSynchronizer, Subscriber, TimeSynchronizer
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.errors import ConfigError, StereoNerfError
from stereo_nerf_core.io import topics
from stereo_nerf_core.pipeline.backpressure import DropOldestQueue
from stereo_nerf_core.pipeline.health import HealthMonitor, NodeCounters
from stereo_nerf_core.pipeline.input_watch import SLOWER_THAN_INPUT
from stereo_nerf_core.pipeline.node_topics import COMPRESSED_SUFFIX, RAW_INPUTS, raw_inputs
from stereo_nerf_ros.input_guard import InputGuard
from stereo_nerf_ros.node_specs import COMPRESSED_IMAGE, TF, NodeSpec, message_class
from stereo_nerf_ros.parameters import declare_pipeline_parameters, read_pipeline_config, updated_config
from stereo_nerf_ros.ros_messages import rclpy_message_classes, tf_unavailable

OUTPUT_QUEUE_DEPTH = 20
"""Reliable, volatile output publishers: compatible with reliable and best-effort subscribers. Two seconds at
the camera's 10 Hz: a reliable reader that stalls for less (RViz, a recorder, a busy probe) loses nothing
(with 5, a 0.5 s stall of the integration test's probe lost a rectified image)."""
TF_QOS = QoSProfile(depth=100)
STATIC_QOS = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
WAKE_S = 0.5
"""The worker wakes at least this often to see whether it should stop."""
DIAGNOSTICS_TOPIC = "/diagnostics"
"""Where every node reports its health at 1 Hz (absolute: the ROS convention, one topic per graph)."""
STALL_S = 5.0
BACKGROUND_STALL_S = 30.0
"""The same for a background node (matcher, trainer): it gets only the CPU the front-end leaves, and a set can
take the matcher several seconds while the front-end is busy (a burst)."""
"""A node with input waiting and nothing processed for this long reports ERROR."""


def input_qos(topic: str, depth: int) -> QoSProfile:
    """Sensor-data QoS for the driver's raw topics, reliable for the graph's own (and /tf_static latched)."""
    if topic == topics.TF_STATIC:
        return STATIC_QOS
    if topic == topics.TF:
        return TF_QOS
    if topic.removesuffix(COMPRESSED_SUFFIX) in RAW_INPUTS:
        return qos_profile_sensor_data
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


class NodeRuntime:
    """Parameters, inputs, queue, worker and publishers of one node (see the module docstring)."""

    def __init__(
        self,
        node: Any,
        spec: NodeSpec,
        process: Callable[[tuple[Any, ...]], dict[str, Any]],
        *,
        reconfigure: Callable[[PipelineConfig], None] | None = None,
    ) -> None:
        self.node = node
        self.spec = spec
        self.process = process
        self.reconfigure = reconfigure
        """With it, the front-end parameters are tunable: a change set on the running node is validated, then
        handed to it before the next set is processed (on the worker thread)."""
        declare_pipeline_parameters(node, spec.parameters, tunable=reconfigure is not None)
        self.config: PipelineConfig = read_pipeline_config(
            lambda name: node.get_parameter(name).value, spec.parameters
        )
        self._changed_config: PipelineConfig | None = None
        self._config_lock = threading.Lock()
        if reconfigure is not None:
            node.add_on_set_parameters_callback(self._on_set_parameters)
        self.classes = rclpy_message_classes()
        self.queue: DropOldestQueue[tuple[Any, ...]] = DropOldestQueue(
            getattr(self.config.nodes, spec.queue_parameter), name=f"{spec.name} input queue"
        )
        self.guard = InputGuard(
            node.get_logger(), name=spec.name, slop_s=self.config.sync.slop_s, queue_capacity=self.queue.capacity
        )
        """Bad input by cause and topic: logged once per cause (then throttled), counted in /diagnostics."""
        self.processed = 0
        self.failed = 0
        self.last_error: str | None = None
        self.health = HealthMonitor(stall_s=BACKGROUND_STALL_S if spec.background else STALL_S)
        self.diagnostics_extra: Callable[[], dict[str, str]] | None = None
        """Node-specific values for /diagnostics (the trainer's keyframes, steps per second, loss, checkpoint age)."""
        self.work_s: deque[float] = deque(maxlen=1000)
        """Seconds each of the latest processed sets took (conversion, stage and publishing)."""
        self._syncs: list[tuple[list[Any], Any]] = []
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self.publishers: dict[str, Any] = {}
        self.input_depth = max(self.config.sync.queue_size, self.config.nodes.frame_cache)
        """History of the reliable inputs: they wait in DDS while the executor runs a slow service (trainer)."""
        cv2.setNumThreads(self.config.nodes.cv_threads or -1)  # -1: OpenCV's default
        from diagnostic_msgs.msg import DiagnosticArray

        self._diagnostics = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._diagnostics_timer = node.create_timer(1.0, self.publish_diagnostics)
        if spec.background:  # before a respawned trainer's start-up (imports, model, checkpoint)
            self._lower_priority(self.config.nodes.background_niceness)

    def _lower_priority(self, niceness: int) -> None:
        """Renice every thread of the process (Linux nices threads one by one; new threads inherit it)."""
        tasks = Path("/proc/self/task")
        threads = [int(tid) for tid in os.listdir(tasks)] if tasks.is_dir() else [0]
        for tid in threads:
            try:
                if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
                    os.setpriority(os.PRIO_PROCESS, tid, niceness)
            except (ProcessLookupError, PermissionError):  # a thread that ended meanwhile; raising needs no rights
                continue
        idle = " (its unbounded work at SCHED_IDLE)" if self.config.nodes.background_idle else ""
        self.node.get_logger().info(
            f"running at niceness {os.getpriority(os.PRIO_PROCESS, 0)}{idle}: the front-end gets the CPU first"
        )

    def idle_this_thread(self) -> None:
        """Put the calling thread (and the threads it starts from now on, such as torch's pool) at SCHED_IDLE when
        the node is a background one and ``nodes.background_idle`` is set: only for work without a bound, never
        for the executor or DDS (see the module docstring)."""
        if not (self.spec.background and self.config.nodes.background_idle):
            return
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError) as error:  # not Linux, or refused: it stays at its niceness
            self.node.get_logger().warning(
                f"SCHED_IDLE unavailable ({error}): {threading.current_thread().name} runs at the node's niceness"
            )

    # -- publishers ----------------------------------------------------------------------------
    def create_publishers(self) -> None:
        """One publisher per output of the spec (lifecycle publishers in a lifecycle node; /tf_static latched)."""
        create = self.node.create_lifecycle_publisher if self.spec.lifecycle else self.node.create_publisher
        output_qos = QoSProfile(depth=OUTPUT_QUEUE_DEPTH)
        for topic, type_name in self.spec.outputs.items():
            if type_name == TF and tf_unavailable():
                self.node.get_logger().warning(f"{tf_unavailable()}: {topic} is not published (every other output is)")
                continue
            qos = STATIC_QOS if topic == topics.TF_STATIC else TF_QOS if topic == topics.TF else output_qos
            self.publishers[topic] = create(message_class(type_name), topic, qos)

    def destroy_publishers(self) -> None:
        """Undo :meth:`create_publishers`."""
        for publisher in self.publishers.values():
            self.node.destroy_publisher(publisher)
        self.publishers.clear()

    def publish(self, outputs: dict[str, Any]) -> None:
        """Publish stage outputs on their topics (outputs without a publisher, such as /tf here, are left out)."""
        for topic, msg in outputs.items():
            publisher = self.publishers.get(topic)
            if publisher is not None:
                publisher.publish(msg)

    # -- inputs --------------------------------------------------------------------------------
    def input_topics(self, names: Sequence[str]) -> tuple[str, ...]:
        """Subscribed names: the raw images on ``<topic>/compressed`` with ``nodes.compressed_input``."""
        raw = dict(zip(RAW_INPUTS, raw_inputs(compressed=self.config.nodes.compressed_input), strict=True))
        return tuple(raw.get(name, name) for name in names)

    def synchronise(
        self,
        names: Sequence[str],
        *,
        approximate: bool,
        on_set: Callable[..., None] | None = None,
    ) -> tuple[str, ...]:
        """Subscribe to ``names`` and park complete sets for the worker (or hand them to ``on_set`` on the
        executor's thread, which must be quick); returns the resolved topic names."""
        subscribed = self.input_topics(names)
        resolved = tuple(self.node.resolve_topic_name(topic) for topic in subscribed)
        size = self.config.sync.queue_size
        watch = self.guard.watch(resolved, driver=any(n.removesuffix(COMPRESSED_SUFFIX) in RAW_INPUTS for n in names))
        holder: list[Any] = []
        inputs = []
        for name, topic, full_name in zip(names, subscribed, resolved, strict=True):
            kind = message_class(COMPRESSED_IMAGE if topic.endswith(COMPRESSED_SUFFIX) else self.spec.inputs[name])
            subscriber = Subscriber(self.node, kind, topic, qos_profile=input_qos(topic, self.input_depth))
            subscriber.registerCallback(self.guard.watcher(watch, full_name, lambda: holder[0]))  # before the sync
            inputs.append(subscriber)
        sync = (
            ApproximateTimeSynchronizer(inputs, queue_size=size, slop=self.config.sync.slop_s)
            if approximate
            else TimeSynchronizer(inputs, size)
        )
        holder.append(sync)
        sync.registerCallback(self.guard.guarded(on_set) if on_set else (lambda *msgs: self.park(tuple(msgs))))
        self._syncs.append((inputs, sync))
        return resolved

    def subscribe(self, topic: str, callback: Callable[[Any], object]) -> Any:
        """A plain subscription to a side input of the spec; a message it cannot take is a fault (logged once per
        cause, counted), never the end of the node."""
        kind = message_class(self.spec.inputs[topic])
        guarded = self.guard.guarded(callback, self.node.resolve_topic_name(topic))
        return self.node.create_subscription(kind, topic, guarded, input_qos(topic, self.input_depth))

    def unsubscribe(self) -> None:
        """Undo every :meth:`synchronise`."""
        for inputs, _ in self._syncs:
            for subscriber in inputs:
                self.node.destroy_subscription(subscriber.sub)
        self._syncs.clear()

    def park(self, item: tuple[Any, ...]) -> None:
        """Queue a complete set and wake the worker (runs under message_filters' lock: never waits)."""
        if self.queue.put(item) is not None:
            self.guard.fault(
                SLOWER_THAN_INPUT,
                self.spec.name,
                f"dropped {self.queue.dropped} of {self.queue.received} input sets so far (the oldest waiting set "
                "goes first)",
                lasting=False,
            )

    # -- worker --------------------------------------------------------------------------------
    def start_worker(self, *, idle: bool = False) -> None:
        """Start the thread that works the queue off (woken by arrivals); ``idle``: at SCHED_IDLE
        (:meth:`idle_this_thread`), for a stage whose sets take seconds of CPU (the matcher)."""
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, args=(idle,), name=f"{self.spec.name}-worker", daemon=True)
        self._worker.start()

    def stop_worker(self) -> None:
        """Stop the worker after the set it is working on."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    def _work(self, idle: bool) -> None:
        if idle:
            self.idle_this_thread()
        while not self._stop.is_set():
            item = self.queue.take(WAKE_S)
            if item is not None:
                self.work_on(item)

    def _on_set_parameters(self, parameters: list[Any]) -> Any:
        """Validate a change of tunable parameters; the stage takes it before the next set (else: refused, with
        the reason, and the node keeps its values)."""
        from rcl_interfaces.msg import SetParametersResult

        changes = {parameter.name: parameter.value for parameter in parameters}
        try:
            config = updated_config(
                lambda name: self.node.get_parameter(name).value, changes, self.spec.parameters
            )
        except ConfigError as error:
            return SetParametersResult(successful=False, reason=str(error))
        with self._config_lock:
            self._changed_config = config
        self.node.get_logger().info(f"parameters changed, from the next set on: {changes}")
        return SetParametersResult(successful=True)

    def _apply_changed_config(self) -> None:
        with self._config_lock:
            config, self._changed_config = self._changed_config, None
        if config is not None and self.reconfigure is not None:
            self.config = config
            self.reconfigure(config)

    def work_on(self, item: tuple[Any, ...]) -> None:
        """Process one set and publish its outputs; a failure is logged (naming the topic) and counted."""
        self._apply_changed_config()
        started = time.perf_counter()
        try:
            outputs = self.process(item)
        except (StereoNerfError, ValueError) as error:
            self.failed += 1
            self.last_error = str(error)
            self.guard.failed(error, f"skipped an input set ({self.failed} so far)")
            return
        self.publish(outputs)
        self.processed += 1
        self.work_s.append(time.perf_counter() - started)
        if self.failed:
            self.guard.recovered()

    def publish_diagnostics(self) -> None:
        """One diagnostic_msgs/DiagnosticArray on /diagnostics: this node's level, message and counters."""
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

        self.guard.check_partners()
        faults, fault_total, silent = self.guard.report()
        now = time.monotonic()
        counters = NodeCounters(
            self.queue.received,
            self.processed,
            self.queue.dropped,
            self.failed,
            len(self.queue),
            self.queue.capacity,
            list(self.work_s)[-100:],
            self.last_error,
            fault_total,
            silent,
        )
        try:
            extra = self.diagnostics_extra() if self.diagnostics_extra is not None else {}
        except (StereoNerfError, ValueError, RuntimeError) as error:
            extra = {"diagnostics_error": str(error)}
        report = self.health.report(counters, now, {**faults, **extra})
        status = DiagnosticStatus(
            level=bytes([report.level]),
            name=self.node.get_fully_qualified_name(),
            message=report.message,
            hardware_id="stereo_nerf",
            values=[KeyValue(key=k, value=v) for k, v in report.values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.node.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def summary(self) -> str:
        """Counts of received, processed, dropped and failed input sets."""
        work = f", {1e3 * float(np.median(self.work_s)):.1f} ms median per set" if self.work_s else ""
        return (
            f"{self.queue.received} input sets received, {self.processed} processed{work}, "
            f"{self.queue.dropped} dropped (processing too slow), {self.failed} failed"
        )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def spin_node(make_node: Callable[[], Any], name: str, args: list[str] | None) -> int:
    """Run a node until SIGINT or SIGTERM (its worker thread does the work); exit code 2 on invalid parameters.

    One executor thread takes messages and serves services; the work runs on the node's own threads.
    (rclpy's multi-threaded executor spins hot while a submitted callback waits for a pool thread, which
    starved a niced node here.) rclpy's signal handlers are off, so the node still logs its summary and
    stops its stage cleanly before the context shuts down; SIGTERM (``ros2 launch``, Docker) is Ctrl-C.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        node = make_node()
    except (ConfigError, ParameterException) as error:
        get_logger(name).fatal(f"invalid parameters: {error}")
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    started = time.monotonic()
    try:
        while True:  # wakes every WAKE_S, so Python's own SIGINT/SIGTERM handlers get to run
            executor.spin_once(timeout_sec=WAKE_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.get_logger().info(f"{node.summary()} in {time.monotonic() - started:.0f} s")
        node.shutdown_stage()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
