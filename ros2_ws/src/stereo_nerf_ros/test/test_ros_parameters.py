"""Node parameters: the YAML, PipelineConfig's defaults and the declared parameters agree (no rclpy needed)."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from stereo_nerf_ros.node_specs import SPECS
from stereo_nerf_ros.parameters import (
    STARTUP_ONLY,
    TUNABLE_GROUPS,
    declare_pipeline_parameters,
    default_parameters,
    pipeline_groups,
    read_pipeline_config,
    updated_config,
)

from stereo_nerf_core.config import PipelineConfig, flatten_parameters, load_config, read_parameter_file
from stereo_nerf_core.errors import ConfigError

PARAMETER_GROUPS = SPECS["depth_prior"].parameters
CONFIG_FILE = Path(__file__).resolve().parents[1] / "config" / "pipeline.yaml"


def _yaml_parameters() -> dict[str, Any]:
    groups = read_parameter_file(CONFIG_FILE.parent / "replay.yaml")
    return {f"{group}.{name}": value for group, values in groups.items() for name, value in values.items()}


@dataclass
class _Declared:
    name: str
    value: Any
    descriptor: Any


class _FakeNode:
    """Records declare_parameter calls and serves the values back like rclpy's get_parameter()."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        self.declared: list[_Declared] = []
        self.overrides = overrides or {}

    def declare_parameter(self, name: str, value: Any, descriptor: Any) -> None:
        assert name not in {d.name for d in self.declared}, f"{name} declared twice"
        self.declared.append(_Declared(name, value, descriptor))

    def get_value(self, name: str) -> Any:
        declared = {d.name: d.value for d in self.declared}
        return self.overrides.get(name, declared[name])


def test_yaml_names_and_values_equal_the_defaults() -> None:
    in_yaml = _yaml_parameters()
    defaults = flatten_parameters(PipelineConfig())
    assert set(in_yaml) == set(defaults)
    for name, default in defaults.items():
        assert in_yaml[name] == default, name
        # rclpy types a parameter by its default: a YAML 1 for a float default would be refused.
        assert type(in_yaml[name]) is type(default), f"{name}: YAML {in_yaml[name]!r} vs default {default!r}"


def test_groups() -> None:
    assert pipeline_groups() == tuple(group.name for group in dataclasses.fields(PipelineConfig))
    assert {"sync", "depth_prior", "fusion", "evaluation"} <= set(pipeline_groups())
    assert {"sync", "scene", "depth_prior", "nodes.queue_size"} == set(PARAMETER_GROUPS)
    assert default_parameters() == flatten_parameters(PipelineConfig())
    assert set(default_parameters(["sync"])) == {"sync.slop_s", "sync.queue_size"}
    with pytest.raises(ConfigError, match="unknown parameter group"):
        default_parameters(["sync", "nerf"])


@pytest.mark.parametrize("groups", [PARAMETER_GROUPS, tuple(pipeline_groups())])
def test_declares_every_name_with_default_and_description(groups: tuple[str, ...]) -> None:
    node = _FakeNode()
    names = declare_pipeline_parameters(node, groups, descriptor_type=SimpleNamespace)
    expected = {
        name: value
        for name, value in flatten_parameters(PipelineConfig()).items()
        if name.split(".")[0] in groups or name in groups
    }
    assert names == list(expected)
    assert {d.name: d.value for d in node.declared} == expected
    for declared in node.declared:
        assert type(declared.value) is type(expected[declared.name])
        assert declared.descriptor.description.strip(), f"{declared.name} has no description"
        assert declared.descriptor.read_only is True


def test_default_descriptor_is_rcl_interfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    class ParameterDescriptor(SimpleNamespace):
        pass

    class FloatingPointRange(SimpleNamespace):
        pass

    class IntegerRange(SimpleNamespace):
        pass

    package, module = ModuleType("rcl_interfaces"), ModuleType("rcl_interfaces.msg")
    module.ParameterDescriptor = ParameterDescriptor  # type: ignore[attr-defined]
    module.FloatingPointRange = FloatingPointRange  # type: ignore[attr-defined]
    module.IntegerRange = IntegerRange  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rcl_interfaces", package)
    monkeypatch.setitem(sys.modules, "rcl_interfaces.msg", module)
    node = _FakeNode()
    declare_pipeline_parameters(node, ["depth_prior"])
    assert node.declared and all(isinstance(d.descriptor, ParameterDescriptor) for d in node.declared)
    by_name = {d.name: d.descriptor.description for d in node.declared}
    assert "pixels" in by_name["depth_prior.lr_max_diff_px"]
    descriptors = {d.name: d.descriptor for d in node.declared}
    (block,) = descriptors["depth_prior.block_size"].integer_range
    assert isinstance(block, IntegerRange) and (block.from_value, block.to_value, block.step) == (1, 31, 0)
    (tolerance,) = descriptors["depth_prior.lr_max_diff_px"].floating_point_range
    assert isinstance(tolerance, FloatingPointRange) and tolerance.to_value == 100.0


def test_read_round_trips_the_yaml() -> None:
    node = _FakeNode(overrides=_yaml_parameters())
    declare_pipeline_parameters(node, pipeline_groups(), descriptor_type=SimpleNamespace)
    assert read_pipeline_config(node.get_value) == load_config(CONFIG_FILE.parent / "replay.yaml")


def test_read_takes_overrides_and_keeps_other_groups_default() -> None:
    node = _FakeNode(overrides={"depth_prior.block_size": 7, "sync.slop_s": 0.01, "fusion.voxel_size_m": 1.0})
    declare_pipeline_parameters(node, PARAMETER_GROUPS, descriptor_type=SimpleNamespace)
    config = read_pipeline_config(node.get_value, PARAMETER_GROUPS)
    default = PipelineConfig()
    assert config.depth_prior == replace(default.depth_prior, block_size=7)
    assert config.sync == replace(default.sync, slop_s=0.01)
    assert config.fusion == default.fusion  # not read: the node did not declare it


def test_read_rejects_invalid_values_by_name() -> None:
    node = _FakeNode(overrides={"depth_prior.block_size": 4})
    declare_pipeline_parameters(node, PARAMETER_GROUPS, descriptor_type=SimpleNamespace)
    with pytest.raises(ConfigError, match="block_size"):
        read_pipeline_config(node.get_value, PARAMETER_GROUPS)


def test_only_the_front_end_parameters_are_tunable_and_only_on_request() -> None:
    fixed, tunable = _FakeNode(), _FakeNode()
    declare_pipeline_parameters(fixed, PARAMETER_GROUPS, descriptor_type=SimpleNamespace)
    declare_pipeline_parameters(tunable, PARAMETER_GROUPS, tunable=True, descriptor_type=SimpleNamespace)
    assert all(d.descriptor.read_only for d in fixed.declared)
    writable = {d.name for d in tunable.declared if not d.descriptor.read_only}
    assert "scene.max_depth_m" in writable and "depth_prior.lr_max_diff_px" in writable
    assert not writable & STARTUP_ONLY and all(name.startswith(TUNABLE_GROUPS) for name in writable)
    assert "sync.slop_s" not in writable and "nodes.queue_size" not in writable


def test_a_change_is_validated_against_the_current_values() -> None:
    node = _FakeNode(overrides={"scene.max_depth_m": 0.2})
    declare_pipeline_parameters(node, PARAMETER_GROUPS, tunable=True, descriptor_type=SimpleNamespace)
    config = updated_config(node.get_value, {"depth_prior.block_size": 7}, PARAMETER_GROUPS)
    assert config.depth_prior.block_size == 7 and config.depth_prior.max_depth_m == 0.2  # the rest as it is
    with pytest.raises(ConfigError, match=r"scene\.max_depth_m .*\[0\.25"):
        updated_config(node.get_value, {"scene.min_depth_m": 0.25}, PARAMETER_GROUPS)  # max is 0.2
    with pytest.raises(ConfigError, match="block_size"):
        updated_config(node.get_value, {"depth_prior.block_size": 4}, PARAMETER_GROUPS)  # even sizes refused
    with pytest.raises(ConfigError, match=r"depth_prior\.backend: read at start-up only"):
        updated_config(node.get_value, {"depth_prior.backend": "seeded"}, PARAMETER_GROUPS)


def test_the_parameter_reference_lists_the_node_parameters_with_their_defaults() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert "(../docs/parameters.md)" in readme  # the README points at the generated reference
    reference = (Path(__file__).resolve().parents[4] / "docs" / "parameters.md").read_text()
    rows = {
        cells[0].strip("`"): cells[2]
        for line in reference.splitlines()
        if line.startswith("| `")
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
        if len(cells) >= 4
    }
    for name, default in default_parameters(PARAMETER_GROUPS).items():
        assert name in rows, f"docs/parameters.md does not list {name}"
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        assert rows[name] == expected, f"docs/parameters.md gives {name} = {rows[name]}, the default is {expected}"
