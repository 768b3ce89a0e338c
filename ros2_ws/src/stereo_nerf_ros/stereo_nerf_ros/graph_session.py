"""Build the workspace and run the pipeline's launch file as a user does, for tests and benchmarks.

:func:`colcon_build` runs ``colcon build`` of a workspace into a folder of the caller's; :class:`LaunchedGraph`
starts ``pipeline.launch.py`` in a shell that sources ``install/setup.sh`` (what ``ros2 launch`` needs),
through :mod:`stereo_nerf_ros.ros2_launch`, with DDS kept on the loopback (``ROS_AUTOMATIC_DISCOVERY_RANGE=
LOCALHOST``) in the caller's domain, and stops it with SIGINT as Ctrl-C would. It finds each node's process
(for CPU and memory figures) and keeps the launch output in a log file.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from stereo_nerf_core.errors import StereoNerfError
from stereo_nerf_core.io import topics
from stereo_nerf_ros.bag_player import BagPlayer, PublishedMessage
from stereo_nerf_ros.graph_diagnostics import DiagnosticsMonitor
from stereo_nerf_ros.graph_probe import GraphProbe
from stereo_nerf_ros.node_specs import SPECS, TF, message_class
from stereo_nerf_ros.ros_messages import tf_unavailable

PACKAGE = "stereo_nerf_ros"
LAUNCH_FILE = "pipeline.launch.py"
STOP_TIMEOUT_S = 30.0


class SessionError(StereoNerfError):
    """The workspace did not build or the launch did not come up (the message quotes the log)."""


def ros_environment(
    *,
    domain_id: int,
    pythonpath: Sequence[Path] = (),
    log_dir: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a ROS process: loopback-only DDS in ``domain_id``, ``pythonpath`` first on PYTHONPATH."""
    env = dict(os.environ if base is None else base)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["RCUTILS_COLORIZED_OUTPUT"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    if log_dir is not None:
        env["ROS_LOG_DIR"] = str(log_dir)
    paths = [str(p) for p in pythonpath] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def colcon_build(source: Path, into: Path, env: Mapping[str, str]) -> Path:
    """``colcon build`` of the packages under ``source`` into ``into``/{build,install,log}; returns install."""
    colcon = Path(sys.executable).with_name("colcon")
    command = [
        str(colcon),
        "--log-base",
        str(into / "log"),
        "build",
        "--base-paths",
        str(source),
        "--build-base",
        str(into / "build"),
        "--install-base",
        str(into / "install"),
    ]
    result = subprocess.run(command, env=dict(env), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SessionError(f"colcon build of {source} failed ({result.returncode}):\n{result.stdout[-3000:]}")
    return into / "install"


@dataclass(frozen=True)
class NodeProcess:
    """A node's process and its CPU time so far."""

    name: str
    process: psutil.Process


class LaunchedGraph:
    """``pipeline.launch.py`` running in a subprocess (context manager: stops it on exit).

    The nodes run in the log file's folder: files they write on request (``nodes.checkpoint_path``,
    ``nodes.mesh_path``, relative by default) land there, not in the caller's working directory.
    """

    def __init__(
        self, install: Path, env: Mapping[str, str], log_file: Path, arguments: Mapping[str, str] | None = None
    ) -> None:
        self.install = install
        self.env = dict(env)
        self.log_file = log_file
        self.arguments = dict(arguments or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.exit_code: int | None = None

    def start(self) -> LaunchedGraph:
        """Source ``install/setup.sh`` and run the launch file with the arguments."""
        launch = [sys.executable, "-m", "stereo_nerf_ros.ros2_launch", PACKAGE, LAUNCH_FILE]
        launch += [f"{name}:={value}" for name, value in self.arguments.items()]
        script = f". {shlex.quote(str(self.install / 'setup.sh'))} && exec {shlex.join(launch)}"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "wb") as log:
            self.process = subprocess.Popen(
                ["bash", "-c", script],
                env=self.env,
                cwd=self.log_file.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def nodes(self, timeout_s: float = 60.0) -> dict[str, NodeProcess]:
        """The process of every node (waits until all of them run); SessionError if the launch dies first."""
        deadline = time.monotonic() + timeout_s
        executables = {spec.executable: spec.name for spec in SPECS.values()}
        while True:
            found: dict[str, NodeProcess] = {}
            for child in self._children():
                try:
                    command = child.cmdline()
                except psutil.Error:
                    continue
                for part in command[:3]:
                    name = executables.get(Path(part).name)
                    if name is not None:
                        found[name] = NodeProcess(name, child)
            if len(found) == len(executables):
                return found
            if self.process is None or self.process.poll() is not None or time.monotonic() > deadline:
                raise SessionError(
                    f"the launch did not start every node (found {sorted(found)}):\n{self.log()[-3000:]}"
                )
            time.sleep(0.2)

    def _children(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []

    def log(self) -> str:
        """What the launch and the nodes printed so far."""
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self) -> int:
        """SIGINT (Ctrl-C) to the launch, as a user stops it; SIGKILL to what is left after STOP_TIMEOUT_S."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.exit_code = self.process.returncode
        return self.exit_code

    def __enter__(self) -> LaunchedGraph:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class GraphSession:
    """The launched graph with a probe and a bag player in this process, on their own rclpy context.

    ``with GraphSession(...) as session:`` starts the launch, waits until every node publishes its outputs
    and the trainer is active, and stops everything on exit. :meth:`play` publishes a bag at its pace from a
    node in the session's namespace, so the graph sees it as a driver's topics.
    """

    def __init__(
        self,
        install: Path,
        work_dir: Path,
        env: Mapping[str, str],
        *,
        namespace: str = "",
        arguments: Mapping[str, str] | None = None,
        keep: Sequence[str] = (),
        ready_timeout_s: float = 120.0,
    ) -> None:
        self.namespace = namespace.strip("/")
        launch_arguments = dict(arguments or {})
        if self.namespace:
            launch_arguments["namespace"] = self.namespace
        self.graph = LaunchedGraph(install, env, work_dir / "launch.log", launch_arguments)
        self.keep = keep
        self.ready_timeout_s = ready_timeout_s
        self.published: list[PublishedMessage] = []
        self._stop = threading.Event()

    def __enter__(self) -> GraphSession:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.graph.start()
        try:
            self.context = Context()
            rclpy.init(context=self.context)
            self.node = rclpy.create_node("graph_session", namespace=f"/{self.namespace}", context=self.context)
            self.probe = GraphProbe(self.node, namespace=self.namespace, keep=self.keep)
            self.diagnostics = DiagnosticsMonitor(self.node)
            self.executor = SingleThreadedExecutor(context=self.context)
            self.executor.add_node(self.node)
            self._spinner = threading.Thread(target=self._spin, name="graph-session", daemon=True)
            self._spinner.start()
            self.processes = self.graph.nodes(self.ready_timeout_s)
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            self.executor.spin_once(timeout_sec=0.1)

    def _wait_ready(self) -> None:
        """Every output (but /tf where tf2_msgs is missing) has its publisher, the trainer is active and the
        nodes have finished starting (together under a tenth of a core for a second)."""
        deadline = time.monotonic() + self.ready_timeout_s
        wanted = [topic for topic, (_, kind) in self.probe.topics.items() if not (kind == TF and tf_unavailable())]
        while time.monotonic() < deadline:
            missing = [topic for topic in wanted if self.node.count_publishers(topic) == 0]
            if not missing and self.trainer_state() == "active" and self._quiet():
                return
            if self.graph.process is None or self.graph.process.poll() is not None:
                break
            time.sleep(0.2)
        raise SessionError(f"the graph did not come up (no publisher yet on {missing}):\n{self.graph.log()[-3000:]}")

    def _quiet(self, window_s: float = 1.0, share: float = 0.1) -> bool:
        before = sum(self.cpu_seconds().values())
        time.sleep(window_s)
        return sum(self.cpu_seconds().values()) - before < share * window_s

    def resolve(self, name: str) -> str:
        """A node-relative name (``trainer/reset``) as an absolute one in the session's namespace."""
        return f"/{self.namespace}/{name}" if self.namespace else f"/{name}"

    def call(self, service: str, type_name: str, request: Any = None, timeout_s: float = 60.0) -> Any:
        """Call a service of the graph (``trainer/save_checkpoint``) over DDS; SessionError on a timeout."""
        kind = message_class(type_name)
        client = self.node.create_client(kind, self.resolve(service))
        try:
            if not client.wait_for_service(timeout_sec=timeout_s):
                raise SessionError(f"service {self.resolve(service)} is not offered")
            future = client.call_async(request if request is not None else kind.Request())
            deadline = time.monotonic() + timeout_s
            while not future.done():
                if time.monotonic() > deadline:
                    raise SessionError(f"service {self.resolve(service)} did not answer within {timeout_s} s")
                time.sleep(0.02)
            return future.result()
        finally:
            self.node.destroy_client(client)

    def trainer_state(self) -> str:
        """The trainer's lifecycle state label ("" while its service is not there)."""
        try:
            return str(self.call("trainer/get_state", "lifecycle_msgs/srv/GetState", timeout_s=1.0).current_state.label)
        except SessionError:
            return ""

    def transition(self, label: str) -> bool:
        """Drive the trainer's lifecycle (``configure``, ``activate``, ``deactivate``, ``cleanup``)."""
        kind = message_class("lifecycle_msgs/srv/ChangeState")
        request = kind.Request()
        request.transition.label = label
        return bool(self.call("trainer/change_state", "lifecycle_msgs/srv/ChangeState", request).success)

    def play(self, bag: Path | str, *, rate: float = 1.0, max_frames: int | None = None) -> list[PublishedMessage]:
        """Publish the bag at ``rate`` x its pace (stamps kept); returns what went out, in order."""
        published: list[PublishedMessage] = []
        player = BagPlayer(self.node, bag, rate=rate, max_frames=max_frames, on_publish=published.append)
        if not player.wait_for_subscribers([topics.LEFT_IMAGE, topics.RIGHT_IMAGE], self.ready_timeout_s):
            raise SessionError("nothing subscribes to the raw images: is stereo_frontend running?")
        player.play(self._stop)
        self.published.extend(published)
        return published

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) each node has used so far."""
        used = {}
        for name, node in self.processes.items():
            try:
                times = node.process.cpu_times()
            except psutil.Error:
                continue
            used[name] = times.user + times.system
        return used

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        import rclpy

        self._stop.set()
        if getattr(self, "_spinner", None) is not None:
            self._spinner.join()
        if getattr(self, "node", None) is not None:
            self.executor.shutdown()
            self.node.destroy_node()
        if getattr(self, "context", None) is not None:
            rclpy.try_shutdown(context=self.context)
        self.graph.stop()
