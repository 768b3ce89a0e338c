"""Parameters declared once (``config_checks.param``): validation, declarations and the generated reference."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from stereo_nerf_core.config import PipelineConfig, flatten_parameters, parameter_declarations
from stereo_nerf_core.config_checks import check_declared, group_declarations, param, param_factory
from stereo_nerf_core.config_docs import parameters_markdown
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.frontend_config import DepthPriorConfig, SyncConfig

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class _Group:
    GROUP: ClassVar[str] = "demo"

    gain: float = param(0.5, "How much.", low=0.0, high=1.0)
    span_m: float = param(0.1, "How far.", low=0.01, high=2.0, unit="m")
    names: list[str] = param_factory(lambda: ["a"], "Which.")
    label: str = param("x", "Free text, no range.")

    def __post_init__(self) -> None:
        check_declared(self)


def test_a_declared_range_is_checked_inclusively_and_the_error_names_the_parameter() -> None:
    assert _Group(gain=0.0, span_m=2.0).gain == 0.0
    with pytest.raises(ConfigError, match=r"parameter demo\.gain = 1\.5 is out of range \[0\.0, 1\.0\]"):
        _Group(gain=1.5)
    with pytest.raises(ConfigError, match=r"demo\.span_m = 0\.0 "):
        _Group(span_m=0.0)


def test_declarations_carry_type_default_range_unit_and_description() -> None:
    gain, span, names, label = group_declarations(_Group)
    assert (gain.name, gain.type_name, gain.default, gain.low, gain.high, gain.unit) == (
        "demo.gain",
        "float",
        0.5,
        0.0,
        1.0,
        "",
    )
    assert (span.unit, span.description) == ("m", "How far.")
    assert (names.type_name, names.default, names.low) == ("string list", ["a"], None)
    assert (label.type_name, label.low, label.high) == ("string", None, None)


def test_a_range_needs_both_bounds_and_a_field_without_a_declaration_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs both bounds"):
        param(1, "One bound only.", low=0)

    @dataclass(frozen=True)
    class Undeclared:
        GROUP: ClassVar[str] = "bad"
        plain: int = 3

    with pytest.raises(ConfigError, match=r"Undeclared\.plain is not declared with param\(\)"):
        group_declarations(Undeclared)


def test_every_pipeline_parameter_is_declared_and_the_real_groups_check_their_ranges() -> None:
    declarations = parameter_declarations()
    assert list(declarations) == list(flatten_parameters(PipelineConfig()))  # same names, YAML order
    assert all(d.description.strip() for d in declarations.values())
    slop = declarations["sync.slop_s"]
    assert (slop.low, slop.high, slop.unit, slop.default) == (0.0, 1.0, "s", 0.005)
    assert declarations["scene.max_depth_m"].unit == "m"
    with pytest.raises(ConfigError, match=r"sync\.queue_size = 0 is out of range \[1, 10000\]"):
        SyncConfig(queue_size=0)
    with pytest.raises(ConfigError, match=r"depth_prior\.max_depth_m = 0\.01 is out of range \[0\.02, "):
        DepthPriorConfig(min_depth_m=0.02, max_depth_m=0.01)  # the check across fields stays


def test_the_committed_parameter_reference_is_generated_from_the_declarations() -> None:
    committed = (REPO / "docs" / "parameters.md").read_text()
    assert committed == parameters_markdown(), "run: python -m stereo_nerf_core.config_docs > docs/parameters.md"
    assert "| `sync.slop_s` | float | 0.005 | 0 to 1 | s | Largest stamp difference" in committed
    assert committed.count("\n| `") == len(parameter_declarations())
