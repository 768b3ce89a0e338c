"""pipeline.launch.py: its arguments (read with ast) and its wiring (run against recording stand-ins of launch)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from stereo_nerf_core.pipeline.node_topics import RAW_INPUTS

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILE = PACKAGE_ROOT / "launch" / "pipeline.launch.py"
EXPECTED_ARGUMENTS = {
    "config",
    "namespace",
    "left_image",
    "right_image",
    "left_camera_info",
    "right_camera_info",
    "use_sim_time",
    "bag",
    "bag_rate",
    "respawn",
    "rviz",
}


def _tree() -> ast.Module:
    return ast.parse(LAUNCH_FILE.read_text(), filename=str(LAUNCH_FILE))


def _declared_arguments(tree: ast.Module) -> dict[str, ast.Call]:
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "DeclareLaunchArgument"
    ]
    names: list[str] = []
    for call in calls:
        first = call.args[0] if call.args else None
        assert isinstance(first, ast.Constant) and isinstance(first.value, str), "argument names must be literals"
        names.append(first.value)
    assert len(names) == len(set(names)), f"an argument is declared twice: {names}"
    return dict(zip(names, calls, strict=True))


def _keyword(call: ast.Call, name: str) -> ast.expr:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    raise AssertionError(f"{ast.unparse(call)} has no {name}=")


def test_defines_generate_launch_description() -> None:
    functions = {node.name for node in _tree().body if isinstance(node, ast.FunctionDef)}
    assert "generate_launch_description" in functions


def test_declares_exactly_the_documented_arguments() -> None:
    assert set(_declared_arguments(_tree())) == EXPECTED_ARGUMENTS


def test_default_config_is_the_installed_pipeline_yaml() -> None:
    tree = _tree()
    default = _keyword(_declared_arguments(tree)["config"], "default_value")
    if isinstance(default, ast.Name):  # follow one assignment: default_config = os.path.join(share, ...)
        assignments = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == default.id for target in node.targets)
        ]
        assert len(assignments) == 1
        default = assignments[0]
    strings = {node.value for node in ast.walk(default) if isinstance(node, ast.Constant)}
    assert "pipeline.yaml" in strings
    assert "get_package_share_directory" in ast.unparse(tree)


def test_simple_defaults() -> None:
    arguments = _declared_arguments(_tree())
    simple = {
        "use_sim_time": "false",
        "bag": "",
        "bag_rate": "1.0",
        "respawn": "true",  # a node that dies comes back (the trainer from its checkpoint)
        "rviz": "false",
        "namespace": "",
    }
    for name, value in simple.items():
        default = _keyword(arguments[name], "default_value")
        assert isinstance(default, ast.Constant) and default.value == value, name
    for index, name in enumerate(("left_image", "right_image", "left_camera_info", "right_camera_info")):
        # relative: the driver's topics resolve in the launch namespace
        assert ast.unparse(_keyword(arguments[name], "default_value")) == f"RAW_INPUTS[{index}]", name
    for call in arguments.values():
        assert isinstance(_keyword(call, "description"), ast.Constant)


# --- running generate_launch_description() against stand-ins that record their arguments ---


class _Recorded:
    """Stand-in for a launch class: keeps its positional and keyword arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.args}, {self.kwargs})"


def _stub_modules(share: Path) -> dict[str, ModuleType]:
    classes = {
        "launch.actions": ("DeclareLaunchArgument", "ExecuteProcess"),
        "launch.conditions": ("IfCondition", "UnlessCondition"),
        "launch.launch_description": ("LaunchDescription",),
        "launch.substitutions": ("LaunchConfiguration", "NotEqualsSubstitution", "PythonExpression"),
        "launch_ros.actions": ("Node",),
        "launch_ros.parameter_descriptions": ("ParameterValue",),
    }
    modules: dict[str, ModuleType] = {}
    for package in ("launch", "launch_ros", "ament_index_python"):
        modules[package] = ModuleType(package)
    for module_name, names in classes.items():
        module = ModuleType(module_name)
        for name in names:
            setattr(module, name, type(name, (_Recorded,), {}))
        modules[module_name] = module
    packages = ModuleType("ament_index_python.packages")
    packages.get_package_share_directory = lambda name: str(share / name)  # type: ignore[attr-defined]
    modules["ament_index_python.packages"] = packages
    return modules


@pytest.fixture()
def description(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    for name, module in _stub_modules(tmp_path).items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("pipeline_launch_under_test", LAUNCH_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def _entities(description: Any, kind: str) -> list[Any]:
    return [entity for entity in description.args[0] if type(entity).__name__ == kind]


def _config_name(value: Any) -> str:
    assert type(value).__name__ == "LaunchConfiguration", value
    return str(value.args[0])


def test_runs_and_declares_the_arguments_first(description: Any, tmp_path: Path) -> None:
    entities = description.args[0]
    declared = [entity.args[0] for entity in _entities(description, "DeclareLaunchArgument")]
    assert set(declared) == EXPECTED_ARGUMENTS
    assert [type(e).__name__ for e in entities[: len(declared)]] == ["DeclareLaunchArgument"] * len(declared)
    config = next(e for e in entities if type(e).__name__ == "DeclareLaunchArgument" and e.args[0] == "config")
    assert config.kwargs["default_value"] == str(tmp_path / "stereo_nerf_ros" / "config" / "pipeline.yaml")


def test_every_node_of_the_specs_is_started_with_the_yaml_and_its_remappings(description: Any) -> None:
    from stereo_nerf_ros.node_specs import SPECS

    from stereo_nerf_core.pipeline.node_topics import NODES

    nodes = [
        node.kwargs
        for node in _entities(description, "Node")
        if node.kwargs["package"] == "stereo_nerf_ros" and node.kwargs["name"] != "bag_player"
    ]
    assert [node["name"] for node in nodes] == list(NODES) == list(SPECS)
    arguments = dict(
        zip(RAW_INPUTS, ("left_image", "right_image", "left_camera_info", "right_camera_info"), strict=True)
    )
    for node in nodes:
        spec = SPECS[node["name"]]
        assert node["executable"] == spec.executable
        assert _config_name(node["namespace"]) == "namespace"
        config_file, overrides = node["parameters"]
        assert _config_name(config_file) == "config"  # the one YAML: every node's defaults
        sim_time = overrides["use_sim_time"]
        assert type(sim_time).__name__ == "ParameterValue" and sim_time.kwargs["value_type"] is bool
        assert _config_name(sim_time.args[0]) == "use_sim_time"
        plain = {source: _config_name(target) for source, target in node["remappings"] if not isinstance(target, list)}
        assert plain == {topic: name for topic, name in arguments.items() if topic in spec.inputs}, spec.name
        compressed = {source: target for source, target in node["remappings"] if isinstance(target, list)}
        for topic in RAW_INPUTS[:2]:
            if topic in spec.inputs:
                target = compressed[f"{topic}/compressed"]
                assert _config_name(target[0]) == arguments[topic] and target[1] == "/compressed"
        assert _config_name(node["respawn"]) == "respawn"
    raw = {node["name"] for node in nodes if node["remappings"]}
    assert raw == {"stereo_frontend", "tracker"}  # the only raw input of the tracker: the left camera_info


def test_bag_player_runs_only_with_a_bag(description: Any) -> None:
    (player,) = [node for node in _entities(description, "Node") if node.kwargs["name"] == "bag_player"]
    assert (player.kwargs["package"], player.kwargs["executable"]) == ("stereo_nerf_ros", "bag_player")
    assert _config_name(player.kwargs["namespace"]) == "namespace"  # the bag plays into the graph's namespace
    (parameters,) = player.kwargs["parameters"]
    assert _config_name(parameters["bag"]) == "bag"
    assert _config_name(parameters["rate"].args[0]) == "bag_rate"
    assert _config_name(parameters["clock"].args[0]) == "use_sim_time"
    condition = player.kwargs["condition"]
    assert type(condition).__name__ == "IfCondition"
    (not_equals,) = condition.args
    assert type(not_equals).__name__ == "NotEqualsSubstitution"
    assert _config_name(not_equals.args[0]) == "bag" and not_equals.args[1] == ""


def test_rviz_uses_the_installed_rviz_config(description: Any, tmp_path: Path) -> None:
    (rviz,) = [node for node in _entities(description, "Node") if node.kwargs["package"] == "rviz2"]
    assert rviz.kwargs["arguments"] == ["-d", str(tmp_path / "stereo_nerf_ros" / "config" / "stereo_nerf.rviz")]
    assert (PACKAGE_ROOT / "config" / "stereo_nerf.rviz").is_file()
    assert _config_name(rviz.kwargs["condition"].args[0]) == "rviz"
