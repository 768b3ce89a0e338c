"""The rclpy nodes without rclpy: they parse, are installed, wire the stages their specs name, declare the
YAML's parameters (same names, defaults, descriptions and ranges) and use the documented QoS and synchronisers."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from conftest import requires_ros
from stereo_nerf_ros.node_specs import SPECS
from stereo_nerf_ros.parameters import declare_pipeline_parameters, default_parameters, parameter_ranges

from stereo_nerf_core.config import PipelineConfig, flatten_parameters, node_sections, read_parameter_file
from stereo_nerf_core.io import topics
from stereo_nerf_core.pipeline import node_topics as names

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
MODULES = PACKAGE_ROOT / "stereo_nerf_ros"
CONFIG_FILE = PACKAGE_ROOT / "config" / "pipeline.yaml"


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _yaml() -> dict[str, Any]:
    groups = read_parameter_file(CONFIG_FILE)
    return {f"{group}.{name}": value for group, values in groups.items() for name, value in values.items()}


class _FakeNode:
    def __init__(self) -> None:
        self.declared: dict[str, tuple[Any, Any]] = {}

    def declare_parameter(self, name: str, value: Any, descriptor: Any) -> None:
        assert name not in self.declared, f"{name} declared twice"
        self.declared[name] = (value, descriptor)


@pytest.mark.parametrize("name", list(SPECS))
def test_node_module_parses_and_has_main(name: str) -> None:
    path = MODULES / f"{SPECS[name].executable}.py"
    tree = _tree(path)
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "main" in functions, path
    assert f"SPECS[names.{name.upper()}]" in ast.unparse(tree), f"{path} does not use its spec"
    assert len(path.read_text().splitlines()) < 200, f"{path} is no longer a thin shell"


def test_console_scripts_start_every_node() -> None:
    setup = _tree(PACKAGE_ROOT / "setup.py")
    scripts = next(
        node.value
        for node in setup.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "CONSOLE_SCRIPTS"
    )
    entries = {entry.split("=")[0].strip(): entry.split("=")[1].strip() for entry in ast.literal_eval(scripts)}
    nodes = {spec.executable: f"stereo_nerf_ros.{spec.executable}:main" for spec in SPECS.values()}
    assert entries == {**nodes, "bag_player": "stereo_nerf_ros.bag_player:main"}


@pytest.mark.parametrize("name", list(SPECS))
def test_declared_parameters_equal_the_yaml(name: str) -> None:
    node = _FakeNode()
    declare_pipeline_parameters(node, SPECS[name].parameters, descriptor_type=SimpleNamespace)
    in_yaml, ranges = _yaml(), parameter_ranges()
    assert node.declared, name
    for parameter, (value, descriptor) in node.declared.items():
        assert parameter in in_yaml, f"{name} declares {parameter}, which pipeline.yaml lacks"
        assert value == in_yaml[parameter] and type(value) is type(in_yaml[parameter]), parameter
        assert descriptor.description.strip() and descriptor.read_only is True
        if parameter in ranges and not isinstance(value, bool):
            low, high = ranges[parameter]
            kind = "integer_range" if isinstance(value, int) else "floating_point_range"
            (declared_range,) = getattr(descriptor, kind)
            assert (declared_range.from_value, declared_range.to_value) == (low, high), parameter
            assert low <= value <= high, f"{parameter} default {value} outside its range [{low}, {high}]"


def _declared(name: str) -> set[str]:
    return set(default_parameters(SPECS[name].parameters))


def test_every_parameter_of_the_nodes_file_is_declared_by_a_node_it_reaches() -> None:
    """Each node's section holds only what that node declares; the shared section only what two or more declare;
    together they hold every parameter a node declares, once."""
    sections = node_sections(yaml.safe_load(CONFIG_FILE.read_text()), CONFIG_FILE)
    held = {
        section: {f"{group}.{key}" for group, values in groups.items() for key in values}
        for section, groups in sections.items()
    }
    assert set(held) == {"/**", *(f"/**/{name}" for name in SPECS)} - {"/**/matcher"}
    for name in SPECS:
        own = held.get(f"/**/{name}", set())
        assert own <= _declared(name), f"{name}'s section holds {sorted(own - _declared(name))}, which it never reads"
        assert _declared(name) <= own | held["/**"], f"{name} declares {sorted(_declared(name) - own - held['/**'])}"
    for parameter in held["/**"]:
        readers = [name for name in SPECS if parameter in _declared(name)]
        assert len(readers) >= 2, f"{parameter} is in the shared section but only {readers} read it"
    everything = [parameter for names in held.values() for parameter in names]
    assert len(everything) == len(set(everything)) == len(set().union(*map(_declared, SPECS)))


def test_each_node_declares_only_what_it_reads() -> None:
    counts = {name: len(_declared(name)) for name in SPECS}
    assert counts == {"stereo_frontend": 5, "matcher": 18, "depth_prior": 26, "tracker": 40, "trainer": 69}
    assert "trainer.mode" not in _declared("depth_prior") and "nodes.render_rate_hz" not in _declared("tracker")
    assert "nodes.compressed_input" in _declared("stereo_frontend") and "scene.max_depth_m" in _declared("matcher")
    offline = {"replay", "evaluation", "fusion", "pose_free", "self_supervised"}
    assert not {p.split(".")[0] for name in SPECS for p in _declared(name)} & offline


def test_most_parameters_have_a_declared_range() -> None:
    ranges = parameter_ranges()
    numeric = [
        n
        for n, v in flatten_parameters(PipelineConfig()).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    assert len([n for n in numeric if n in ranges]) >= 0.9 * len(numeric)
    assert ranges["sync.slop_s"] == (0.0, 1.0)
    assert ranges["scene.max_depth_m"] == (1e-4, 1000.0)
    assert "depth_prior.max_depth_m" not in ranges  # set by scene.max_depth_m: not a parameter of its own


def test_specs_publish_what_the_stages_return() -> None:
    assert tuple(SPECS["stereo_frontend"].outputs) == (*names.FRONTEND_OUTPUTS, topics.TF_STATIC)
    assert tuple(SPECS["matcher"].outputs) == names.MATCHER_OUTPUTS
    assert tuple(SPECS["depth_prior"].outputs) == names.DEPTH_PRIOR_OUTPUTS  # stereo_frontend owns /tf_static
    assert set(SPECS["tracker"].outputs) == {*names.TRACKER_OUTPUTS, topics.TF}
    assert tuple(SPECS["trainer"].outputs) == names.TRAINER_OUTPUTS
    assert tuple(SPECS["trainer"].services) == names.TRAINER_SERVICES
    assert [spec.lifecycle for spec in SPECS.values()] == [False, False, False, False, True]
    # the matcher and the trainer take what CPU the front-end leaves; the tracker and trainer see every frame
    assert {name for name, spec in SPECS.items() if spec.background} == {"matcher", "trainer"}
    assert {name: spec.queue_parameter for name, spec in SPECS.items()} == {
        "stereo_frontend": "queue_size",
        "matcher": "queue_size",
        "depth_prior": "queue_size",
        "tracker": "frame_cache",
        "trainer": "frame_cache",
    }


@requires_ros
def test_driver_topics_are_sensor_data_and_the_graph_s_own_reliable() -> None:
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy, qos_profile_sensor_data
    from stereo_nerf_ros.node_runtime import input_qos

    for topic in (*names.RAW_INPUTS, f"{names.RAW_INPUTS[0]}/compressed"):
        assert input_qos(topic, 30) == qos_profile_sensor_data, topic
    for topic in (*names.RECTIFIED_PAIR, *names.TRACKER_PRIOR_INPUTS, *names.TRAINER_POSE_INPUTS):
        qos = input_qos(topic, 30)
        assert (qos.reliability, qos.depth) == (ReliabilityPolicy.RELIABLE, 30), topic
    assert input_qos(topics.TF_STATIC, 30).durability == DurabilityPolicy.TRANSIENT_LOCAL


def test_trainer_builds_its_model_on_configure_not_on_construction() -> None:
    tree = _tree(MODULES / "trainer_node.py")
    (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef)]
    assert [ast.unparse(base) for base in cls.bases] == ["LifecycleNode"]
    methods = {node.name: ast.unparse(node) for node in cls.body if isinstance(node, ast.FunctionDef)}
    assert "self.stage.configure()" in methods["on_configure"]
    assert "configure()" not in methods["__init__"].replace("TrainerStage(", "")
    assert {"on_configure", "on_activate", "on_deactivate", "on_cleanup"} <= set(methods)
    for module in ("trainer_node.py", "node_runtime.py", "node_specs.py"):
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(_tree(MODULES / module))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [SimpleNamespace(name=node.module or "")])
        }
        assert "torch" not in imported, module


def test_rviz_shows_depth_cloud_path_and_mesh_of_published_topics() -> None:
    document = yaml.safe_load((PACKAGE_ROOT / "config" / "stereo_nerf.rviz").read_text())
    displays = document["Visualization Manager"]["Displays"]
    shown = {d["Topic"]["Value"]: d["Class"] for d in displays if isinstance(d.get("Topic"), dict)}
    published = {
        names.resolve(spec.name, topic): kind for spec in SPECS.values() for topic, kind in spec.outputs.items()
    }
    for topic in shown:
        assert topic in published, f"RViz shows {topic}, which no node publishes"
    assert shown["/depth_prior/depth"] == "rviz_default_plugins/Image"
    assert shown["/trainer/cloud"] == "rviz_default_plugins/PointCloud2"
    assert shown["/tracker/path"] == "rviz_default_plugins/Path"
    assert shown["/trainer/mesh"] == "rviz_default_plugins/Marker"
    assert document["Visualization Manager"]["Global Options"]["Fixed Frame"] == topics.WORLD_FRAME


STAGES = {
    "stereo_frontend": ("StereoFrontendStage", "self.stage.process(StereoMessages(*item)"),
    "matcher": ("MatcherStage", "self.stage.process(*item"),
    "depth_prior": ("DepthPriorNodeStage", "self.stage.process(*item"),
    "tracker": ("TrackerStage", "self.stage.track(*item"),
    "trainer": ("TrainerStage", "self.stage.accept_frame(*item"),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_node_and_stage_graph_call_the_same_stage(name: str) -> None:
    """What a node publishes is what its stage returns, exactly as StageGraph (which CI replays a bag through)."""
    stage, call = STAGES[name]
    node_source = (MODULES / f"{SPECS[name].executable}.py").read_text()
    assert f"{stage}(self.runtime.config, self.runtime.classes)" in node_source
    assert call in node_source
    graph_source = (Path(names.__file__).parent / "graph.py").read_text()
    assert f"{stage}(config, classes" in graph_source
