"""The live graph as a user runs it: colcon build, pipeline.launch.py, the sample bag played over DDS at its pace.

Twice: with the defaults, and under a namespace (the whole graph must move with it). A probe records every
output; the checks are the documented interface (type, frame_id, stamps equal to the input stamps, counts)
and content: the published depth against the structured ground truth of the synthetic bag, held to the
offline replay's figure on the same frames; the poses against the ground-truth trajectory; renders and a
cloud from the trainer; the trainer's services and lifecycle over DDS.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CONFIG, SAMPLE_BAG, requires_ros
from stereo_nerf_ros.graph_session import GraphSession
from stereo_nerf_ros.node_specs import message_class

from stereo_nerf_core.config import load_config
from stereo_nerf_core.io.messages import image_to_array, pose_to_matrix
from stereo_nerf_core.io.ros_conversions.point_cloud import point_cloud_to_arrays
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.health import ERROR
from stereo_nerf_core.pipeline.live_scoring import TruthFrame, bag_truth, pose_score, replay_depth, tissue_depth_score

pytestmark = [pytest.mark.slow, requires_ros]

FRAMES = 20
"""A 2 s slice of the sample bag (10 Hz)."""
TRAINER_WAIT_S = 60.0
"""Longest wait for the trainer's first render and cloud after the slice (2 CPU cores, trainer in the background)."""
TRAINING_S = 50.0
"""How long the trainer trains after the slice before its renders and mesh are checked (the run with the
defaults only; 20 s was too short on a slower 2-core machine: render error 0.05, no surface yet)."""
RENDER_WAIT_S = 120.0
"""Longest further wait for a render of the latest frame within 2 % of the ground truth."""
SURFACE_WAIT_S = 120.0
"""Longest further wait for the trainer's first mesh marker, before write_mesh is called."""
LEFT_RECT, RIGHT_RECT, WORLD = names.LEFT_RECT_OPTICAL_FRAME, names.RIGHT_RECT_OPTICAL_FRAME, "world"
PER_PAIR = {
    "stereo_frontend": {
        "stereo_frontend/left/image_rect": LEFT_RECT,
        "stereo_frontend/right/image_rect": RIGHT_RECT,
        "stereo_frontend/left/camera_info": LEFT_RECT,
        "stereo_frontend/right/camera_info": RIGHT_RECT,
    },
    "depth_prior": {
        "depth_prior/depth": LEFT_RECT,
        "depth_prior/confidence": LEFT_RECT,
        "depth_prior/mask": LEFT_RECT,
        "depth_prior/camera_info": LEFT_RECT,
    },
    "tracker": {"tracker/pose": WORLD},
}
"""Front-end nodes with one message per topic for each pair they process, stamped with the pair's left stamp,
and the frame of each topic. A node's drop-oldest queue may drop pairs when the machine is loaded (depth_prior
takes about the camera's period a pair on 2 cores; `make live-bench` measures delivery): each pair reaching a
node is delivered or counted as dropped, none fails, and the newest is never dropped."""
UPSTREAM = {"depth_prior": "stereo_frontend", "tracker": "stereo_frontend"}
"""The node whose rectified pairs a node receives (the others receive the played pairs)."""
SOME_FRAMES = {
    "matcher/matches": LEFT_RECT,
    "matcher/points": LEFT_RECT,
    "tracker/keyframe_pose": WORLD,
    "tracker/path": WORLD,
    "trainer/rendered/depth": LEFT_RECT,
    "trainer/rendered/image": LEFT_RECT,
    "trainer/cloud": WORLD,
    "trainer/refined_path": WORLD,
}
"""Topics with messages for some of the played pairs (background nodes, keyframes, rates), stamped with one."""


@pytest.fixture(scope="module")
def truth() -> list[TruthFrame]:
    return list(bag_truth(SAMPLE_BAG, load_config(CONFIG), max_frames=FRAMES))


def _run(
    workspace: tuple[Path, dict[str, str]], work: Path, namespace: str, training_s: float
) -> Iterator[GraphSession]:
    install, env = workspace
    kept = ("depth_prior/depth", "tracker/pose", "trainer/rendered/depth", "trainer/cloud")
    keep = [f"/{namespace}/{t}" if namespace else f"/{t}" for t in kept]
    with GraphSession(install, work, env, namespace=namespace, keep=keep) as session:
        session.play(SAMPLE_BAG, max_frames=FRAMES)
        deadline = time.monotonic() + TRAINER_WAIT_S
        wanted = [session.resolve(t) for t in ("trainer/rendered/depth", "trainer/cloud")]
        while time.monotonic() < deadline and not all(session.probe.count(t) for t in wanted):
            time.sleep(0.5)
        time.sleep(training_s)
        yield session


@pytest.fixture(scope="class")
def default_run(
    ros_workspace: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GraphSession]:
    """The graph with the defaults (class-scoped: it is stopped before the namespaced one starts)."""
    yield from _run(ros_workspace, tmp_path_factory.mktemp("default"), "", TRAINING_S)


@pytest.fixture(scope="class")
def namespaced_run(
    ros_workspace: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GraphSession]:
    yield from _run(ros_workspace, tmp_path_factory.mktemp("cart"), "cart1", 0.0)


def _check_interface(session: GraphSession, truth: list[TruthFrame]) -> None:
    played = [m.stamp_ns for m in session.published if m.topic == "/stereo/left/image_raw"]
    assert played == [frame.stamp_ns for frame in truth]
    probe = session.probe
    delivered: dict[str, list[int]] = {}
    for node, outputs in PER_PAIR.items():
        reached = delivered[UPSTREAM[node]] if node in UPSTREAM else played
        stamps = [[a.stamp_ns for a in probe.on(session.resolve(topic))] for topic in outputs]
        delivered[node] = stamps[0]
        for topic, topic_stamps in zip(outputs, stamps, strict=True):
            assert topic_stamps == stamps[0], f"{topic} and {next(iter(outputs))} carry different stamps"
            assert topic_stamps == [s for s in reached if s in set(topic_stamps)], f"{topic}: unplayed or out of order"
            assert {a.frame_id for a in probe.on(session.resolve(topic))} == {outputs[topic]}, topic
        counts = session.diagnostics.settled(session.resolve(node), len(reached))
        print(f"{node}: {len(stamps[0])} of {len(played)} pairs delivered, {counts}")
        assert counts == {
            "received": len(reached),
            "processed": len(stamps[0]),
            "dropped": len(reached) - len(stamps[0]),
            "failed": 0,
        }, (node, counts)
        assert stamps[0][-1] == played[-1], node
    for topic, frame_id in SOME_FRAMES.items():
        arrivals = probe.on(session.resolve(topic))
        assert arrivals, f"nothing on {session.resolve(topic)}"
        assert {a.frame_id for a in arrivals} == {frame_id}, topic
        assert {a.stamp_ns for a in arrivals} <= set(played), f"{topic} carries a stamp no pair had"
    # every output has the type of the node's spec, as the ROS graph reports it
    graph_types = dict(session.node.get_topic_names_and_types())
    for topic, (_, type_name) in probe.topics.items():
        if topic in graph_types:
            assert graph_types[topic] == [type_name], topic
    path_every = 10  # nodes.path_rate_hz 1.0 at 10 Hz
    assert len(probe.on(session.resolve("tracker/path"))) == math.ceil(FRAMES / path_every)


class TestUnderANamespace:
    def test_every_output(self, namespaced_run: GraphSession, truth: list[TruthFrame]) -> None:
        assert namespaced_run.resolve("trainer/cloud") == "/cart1/trainer/cloud"
        _check_interface(namespaced_run, truth)
        reply = namespaced_run.call("trainer/render", "std_srvs/srv/Trigger")
        assert reply.success, reply.message

    def test_front_end_parameters_change_on_the_running_node(self, namespaced_run: GraphSession) -> None:
        """``ros2 param set``: a valid change takes effect from the next pair; a bad one is refused with the
        reason and the node keeps its value."""
        from rclpy.parameter import Parameter

        session = namespaced_run

        def set_parameter(name: str, value: object) -> tuple[bool, str]:
            kind = "rcl_interfaces/srv/SetParameters"
            request = message_class(kind).Request()
            request.parameters = [Parameter(name, value=value).to_parameter_msg()]
            result = session.call("depth_prior/set_parameters", kind, request).results[0]
            return bool(result.successful), str(result.reason)

        def get_parameter(name: str) -> float:
            kind = "rcl_interfaces/srv/GetParameters"
            request = message_class(kind).Request()
            request.names = [name]
            return float(session.call("depth_prior/get_parameters", kind, request).values[0].double_value)

        ok, reason = set_parameter("scene.max_depth_m", -1.0)
        assert not ok and "max_depth_m" in reason, reason
        ok, reason = set_parameter("depth_prior.backend", "seeded")
        assert not ok and "read-only" in reason, reason  # loads a model: start-up only
        ok, reason = set_parameter("scene.min_depth_m", 0.5)  # beyond max_depth_m 0.3: the config refuses
        assert not ok and "scene.max_depth_m" in reason and "0.5" in reason, reason
        assert get_parameter("scene.max_depth_m") == pytest.approx(0.3)
        ok, reason = set_parameter("scene.max_depth_m", 0.05)  # nearer than all of the sample's tissue
        assert ok, reason
        before = len(session.probe.on(session.resolve("depth_prior/depth")))
        session.play(SAMPLE_BAG, max_frames=3)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and len(session.probe.on(session.resolve("depth_prior/depth"))) < before + 3:
            time.sleep(0.2)
        later = session.probe.on(session.resolve("depth_prior/depth"))[before:]
        assert later, "no depth after the change"
        for arrival in later:
            depth = image_to_array(arrival.msg)
            assert not np.any(np.isfinite(depth) & (depth > 0.05)), "a depth beyond the new max_depth_m"


class TestWithTheDefaults:
    def test_every_output(self, default_run: GraphSession, truth: list[TruthFrame]) -> None:
        _check_interface(default_run, truth)

    def test_published_depth_scores_like_the_replay(self, default_run: GraphSession, truth: list[TruthFrame]) -> None:
        config = load_config(CONFIG)
        published = {a.stamp_ns: image_to_array(a.msg) for a in default_run.probe.on("/depth_prior/depth")}
        live = tissue_depth_score(truth, published, config)
        offline = tissue_depth_score(truth, replay_depth(truth, config), config)
        assert live.coverage > 0.9 and offline.coverage > 0.9
        assert live.abs_rel == pytest.approx(offline.abs_rel, rel=0.02), (live.abs_rel, offline.abs_rel)
        assert live.abs_rel < 0.012  # the replay's tissue figure on the whole bag is 0.0079

    def test_every_node_reports_its_health_on_diagnostics(self, default_run: GraphSession) -> None:
        nodes = ("/stereo_frontend", "/depth_prior", "/matcher", "/tracker", "/trainer")
        keys = {"received", "processed", "dropped", "failed", "queue_depth", "latency_median_ms", "latency_p95_ms"}
        for name in nodes:
            values = default_run.diagnostics.wait_for(name, lambda v: True)
            assert keys | {"last_error"} <= set(values), name
            report = default_run.diagnostics.latest(name)
            assert report is not None and report.level != ERROR, (name, report)  # playback over: not stopped
        frontend = default_run.diagnostics.values("/stereo_frontend")
        assert int(frontend["processed"]) + int(frontend["dropped"]) == FRAMES, frontend
        assert int(frontend["processed"]) >= 1 and float(frontend["latency_median_ms"]) > 0, frontend
        trainer = default_run.diagnostics.values("/trainer")
        assert int(trainer["keyframes_held"]) >= 1 and int(trainer["steps"]) >= 1 and float(trainer["loss"]) > 0

    def test_published_poses_follow_the_ground_truth(self, default_run: GraphSession, truth: list[TruthFrame]) -> None:
        poses = {a.stamp_ns: pose_to_matrix(a.msg.pose) for a in default_run.probe.on("/tracker/pose")}
        ate = pose_score(truth, poses)
        assert ate.rmse_m < 0.5e-3, ate.rmse_m  # the replay's odometry: 0.07 mm over the whole bag

    def test_trainer_renders_the_tissue_and_clouds_it(self, default_run: GraphSession, truth: list[TruthFrame]) -> None:
        """After some training the latest frame's render has the tissue's depth; the cloud lies on the tissue."""
        config = load_config(CONFIG)
        step = config.nodes.render_downscale
        by_stamp = {frame.stamp_ns: frame for frame in truth}

        def error(arrival: Any) -> float:
            rendered = image_to_array(arrival.msg)
            frame = by_stamp[arrival.stamp_ns]
            assert frame.depth is not None
            ground_truth = frame.depth[::step, ::step][: rendered.shape[0], : rendered.shape[1]]
            usable = np.isfinite(rendered) & np.isfinite(ground_truth) & frame.tissue[::step, ::step]
            return float(np.median(np.abs(rendered[usable] - ground_truth[usable]) / ground_truth[usable]))

        # training speed on 2 shared cores varies: wait (bounded) for a render as good as the test asks
        deadline = time.monotonic() + RENDER_WAIT_S
        while (renders := default_run.probe.on("/trainer/rendered/depth")) and error(renders[-1]) >= 0.02:
            if time.monotonic() > deadline:
                break
            time.sleep(2.0)
        errors = [error(arrival) for arrival in renders]
        assert errors and errors[-1] < 0.02, errors  # median relative error; the prior's is 0.006, 300 steps give 0.003
        (cloud, *_) = default_run.probe.on("/trainer/cloud")
        xyz, rgb = point_cloud_to_arrays(cloud.msg)
        assert len(xyz) > 100 and rgb is not None
        # odometry starts at identity: its world is the first frame's rectified camera; in the bag's world the
        # tissue's mean plane is z = 0 with its folds within +-20 mm (rosbags/README.md)
        T = truth[0].T_world_rect
        assert T is not None
        z = xyz.astype(np.float64) @ T[2, :3] + T[2, 3]
        assert np.median(np.abs(z)) < 0.02, np.median(np.abs(z))

    def test_trainer_services_and_lifecycle_over_dds(self, default_run: GraphSession, tmp_path: Path) -> None:
        session = default_run
        trigger = "std_srvs/srv/Trigger"
        node_dir = session.graph.log_file.parent  # the nodes' working directory: relative files land here
        # write_mesh needs a surface: wait until the trainer's own mesh marker (nodes.mesh_rate_hz) has one
        deadline = time.monotonic() + SURFACE_WAIT_S
        while time.monotonic() < deadline and not session.probe.count(session.resolve("trainer/mesh")):
            time.sleep(1.0)
        for service in ("trainer/save_checkpoint", "trainer/load_checkpoint", "trainer/write_mesh", "trainer/render"):
            reply = session.call(service, trigger)
            assert reply.success, (service, reply.message)
            if service in ("trainer/save_checkpoint", "trainer/write_mesh"):
                written = node_dir / reply.message
                assert written.is_file() and written.stat().st_size > 1000, (service, reply.message)
        for label in ("deactivate", "activate", "deactivate", "cleanup", "configure", "activate"):
            assert session.transition(label), label
        assert session.trainer_state() == "active"
        node = session.node
        for topic in names.TRAINER_OUTPUTS:
            assert node.count_publishers(session.resolve(f"trainer/{topic[2:]}")) == 1, topic
        for service in names.TRAINER_SERVICES:
            assert node.count_services(session.resolve(f"trainer/{service[2:]}")) == 1, service
        reply = session.call("trainer/reset", trigger)
        assert reply.success, reply.message
