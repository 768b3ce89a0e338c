"""A configuration parameter is declared once: its default, description, range and unit.

``param`` puts them on the dataclass field (``dataclasses.field`` metadata). Validation
(:func:`check_declared`), the parameter reference (``docs/parameters.md``) and the ROS parameter descriptors
all read that one declaration; checks across fields (``max_depth_m`` above ``min_depth_m``) stay in the
dataclass's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from stereo_nerf_core.errors import ConfigError

DESCRIPTION, RANGE, UNIT, DERIVED = "description", "range", "unit", "derived"
TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "string"}


@dataclass(frozen=True)
class Declaration:
    """One parameter as declared: what the docs and the ROS descriptors show."""

    name: str
    """``group.field``, as the nodes declare it."""
    type_name: str
    """bool, int, float, string or string list."""
    default: Any
    description: str
    low: float | None
    """Inclusive lower bound (None: no range)."""
    high: float | None
    unit: str
    """SI or image unit (m, s, Hz, px, deg); empty for counts, ratios, switches and names."""


def param(
    default: Any, description: str, *, low: float | None = None, high: float | None = None, unit: str = ""
) -> Any:
    """A dataclass field with its declaration; ``low`` and ``high`` (inclusive) come together or not at all."""
    if (low is None) != (high is None):
        raise ConfigError(f"a parameter range needs both bounds, got low={low}, high={high} ({description[:40]}...)")
    bounds = None if low is None else (low, high)
    return dataclasses.field(default=default, metadata={DESCRIPTION: description, RANGE: bounds, UNIT: unit})


def param_factory(factory: Callable[[], Any], description: str, *, unit: str = "") -> Any:
    """:func:`param` for a mutable default (a list of names)."""
    return dataclasses.field(default_factory=factory, metadata={DESCRIPTION: description, RANGE: None, UNIT: unit})


def derived(default: Any, source: str) -> Any:
    """A field that is not a parameter of its own: :class:`~stereo_nerf_core.config.PipelineConfig` sets it from
    parameter ``source`` (``"scene.max_depth_m"``), so one value serves every group that needs it."""
    return dataclasses.field(default=default, metadata={DERIVED: source})


def derived_fields(cls: type[Any]) -> dict[str, str]:
    """``{field: source parameter}`` of a group dataclass's :func:`derived` fields."""
    return {item.name: item.metadata[DERIVED] for item in dataclasses.fields(cls) if DERIVED in item.metadata}


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raise :class:`ConfigError` naming parameter ``name`` unless ``low <= value <= high``."""
    if not (low <= value <= high):
        raise ConfigError(f"parameter {name} = {value} is out of range [{low}, {high}]")


def check_declared(config: Any) -> None:
    """Check every declared range of a group dataclass instance (its class names the group in ``GROUP``)."""
    for item in dataclasses.fields(config):
        bounds = item.metadata.get(RANGE)
        if bounds is not None:
            check_range(f"{config.GROUP}.{item.name}", getattr(config, item.name), *bounds)


def group_declarations(cls: type[Any]) -> list[Declaration]:
    """The declarations of one group dataclass, in field order (:func:`derived` fields are not parameters);
    ConfigError for a field declared without :func:`param`."""
    hints = get_type_hints(cls)
    declared = []
    for item in dataclasses.fields(cls):
        if DERIVED in item.metadata:
            continue
        if DESCRIPTION not in item.metadata:
            raise ConfigError(f"{cls.__name__}.{item.name} is not declared with param() (no description)")
        default = item.default if item.default is not dataclasses.MISSING else item.default_factory()  # type: ignore[operator]
        hint = hints[item.name]
        type_name = TYPE_NAMES.get(hint, "string list")
        low, high = item.metadata[RANGE] or (None, None)
        declared.append(
            Declaration(
                f"{cls.GROUP}.{item.name}",
                type_name,
                default,
                item.metadata[DESCRIPTION],
                low,
                high,
                item.metadata[UNIT],
            )
        )
    return declared
