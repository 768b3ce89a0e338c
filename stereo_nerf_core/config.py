"""Typed pipeline configuration, read from the nodes' ROS 2 parameter YAML and the offline replay's YAML.

``config/pipeline.yaml`` is the live graph's parameter file: a ``/**: ros__parameters:`` section with what
several nodes read (``scene``: the one depth range, ``sync``, ...) and one section per node
(``/**/trainer: ros__parameters:``) with its own groups; a node declares them as ``group.field`` parameters.
``config/replay.yaml`` holds the offline groups (``replay``, ``evaluation``, ``fusion``, ``pose_free``,
``self_supervised``) and names the nodes' file it runs with (``nodes_parameters``), so the replay runs the
stages the nodes run with the same values. :func:`load_config` reads either. The groups live
by purpose (front-end: :mod:`~stereo_nerf_core.frontend_config`; offline replay:
:mod:`~stereo_nerf_core.offline_config`; live nodes: :mod:`~stereo_nerf_core.nodes_config`; learning:
:mod:`~stereo_nerf_core.learning_config`) and are re-exported here. Each field is declared once with
``config_checks.param`` (default, description, range, unit): :func:`parameter_declarations`; unknown or
mistyped keys raise :class:`ConfigError` naming them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_origin, get_type_hints

import yaml

from stereo_nerf_core.config_checks import Declaration, derived_fields, group_declarations
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.frontend_config import (
    DepthPriorConfig,
    KeyframeConfig,
    MatchingConfig,
    OdometryConfig,
    SceneConfig,
    SyncConfig,
    TrackingConfig,
)
from stereo_nerf_core.learning_config import (
    SELF_SUPERVISED_POSE_SOURCES,
    PoseFreeConfig,
    SelfSupervisedConfig,
    TrainerConfig,
)
from stereo_nerf_core.nodes_config import NodesConfig
from stereo_nerf_core.offline_config import EvaluationConfig, FusionConfig, ReplayConfig


@dataclass(frozen=True)
class PipelineConfig:
    """Every stage's parameters; loaded with :func:`load_config`.

    The depth range fields of ``depth_prior``, ``matching`` and ``evaluation`` are not parameters of their own:
    they are set from ``scene`` (``config_checks.derived``)."""

    scene: SceneConfig = field(default_factory=SceneConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    depth_prior: DepthPriorConfig = field(default_factory=DepthPriorConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    odometry: OdometryConfig = field(default_factory=OdometryConfig)
    keyframes: KeyframeConfig = field(default_factory=KeyframeConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    nodes: NodesConfig = field(default_factory=NodesConfig)
    self_supervised: SelfSupervisedConfig = field(default_factory=SelfSupervisedConfig)
    pose_free: PoseFreeConfig = field(default_factory=PoseFreeConfig)

    def __post_init__(self) -> None:
        for group in dataclasses.fields(self):
            value = getattr(self, group.name)
            sources = derived_fields(type(value))
            if sources:
                resolved = {name: _parameter(self, source) for name, source in sources.items()}
                object.__setattr__(self, group.name, dataclasses.replace(value, **resolved))


def _parameter(config: PipelineConfig, name: str) -> Any:
    group, key = name.split(".", 1)
    return getattr(getattr(config, group), key)


def _build(cls: type[Any], group: str, values: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    sources = derived_fields(cls)
    known = {f.name for f in dataclasses.fields(cls)} - set(sources)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key in sources:
            raise ConfigError(f"{group}.{key} is set by {sources[key]}: one value serves every stage; set that instead")
        if key not in known:
            raise ConfigError(f"unknown parameter {group}.{key}; known: {sorted(known)}")
        expected = hints[key]
        if get_origin(expected) is list:  # a list of strings (ROS 2 string array)
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f"parameter {group}.{key} must be a list of strings, got {value!r}")
            kwargs[key] = list(value)
            continue
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ConfigError(
                f"parameter {group}.{key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
            )
        kwargs[key] = value
    return cls(**kwargs)


def config_from_parameters(parameters: dict[str, Any]) -> PipelineConfig:
    """Build a :class:`PipelineConfig` from ``{group: {name: value}}`` (the ros__parameters dict)."""
    groups = {f.name: get_type_hints(PipelineConfig)[f.name] for f in dataclasses.fields(PipelineConfig)}
    built: dict[str, Any] = {}
    for group, values in parameters.items():
        if group not in groups:
            raise ConfigError(f"unknown parameter group {group!r}; known: {sorted(groups)}")
        if not isinstance(values, dict):
            raise ConfigError(f"parameter group {group!r} must be a mapping, got {type(values).__name__}")
        built[group] = _build(groups[group], group, values)
    return PipelineConfig(**built)


NODES_FILE_KEY = "nodes_parameters"
"""Key of the replay YAML naming the nodes' parameter file (relative: to the replay YAML)."""


def _read_yaml(file: Path) -> Any:
    try:
        return yaml.safe_load(file.read_text())
    except FileNotFoundError as error:
        raise ConfigError(f"{file}: config file not found") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}") from error


def node_sections(document: Any, file: Path) -> dict[str, dict[str, Any]]:
    """``{section: {group: {name: value}}}`` of a ROS 2 parameter file (``/**``, ``/**/trainer``, ...)."""
    if not isinstance(document, dict) or "/**" not in document:
        raise ConfigError(f"{file}: expected a '/**: ros__parameters:' section (a ROS 2 parameter file)")
    sections: dict[str, dict[str, Any]] = {}
    for section, body in document.items():
        if not isinstance(body, dict) or "ros__parameters" not in body:
            raise ConfigError(f"{file}: section {section!r} needs a 'ros__parameters:' mapping")
        groups = body["ros__parameters"] or {}
        if not isinstance(groups, dict):
            raise ConfigError(f"{file}: {section}: ros__parameters must be a mapping of groups")
        sections[str(section)] = groups
    return sections


def merge_sections(sections: dict[str, dict[str, Any]], file: Path) -> dict[str, dict[str, Any]]:
    """The groups of every section in one ``{group: {name: value}}``; ConfigError naming the parameter and the
    sections when two sections set it differently (one value per parameter across the graph)."""
    merged: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    for section, groups in sections.items():
        for group, values in groups.items():
            if not isinstance(values, dict):
                raise ConfigError(f"{file}: {section}: parameter group {group!r} must be a mapping")
            for key, value in values.items():
                name = f"{group}.{key}"
                if name in where and merged[group][key] != value:
                    raise ConfigError(
                        f"{file}: {name} is {merged[group][key]!r} in {where[name]} but {value!r} in {section}: "
                        "a parameter has one value across the graph"
                    )
                merged.setdefault(group, {})[key] = value
                where.setdefault(name, section)
    return merged


def read_parameter_file(path: Path | str) -> dict[str, dict[str, Any]]:
    """``{group: {name: value}}`` as written in the nodes' parameter file (every section) or in the replay's (its
    groups and those of the nodes' file it names); ConfigError naming the file for anything wrong."""
    file = Path(path)
    document = _read_yaml(file)
    offline: dict[str, Any] = {}
    nodes_file = file
    if isinstance(document, dict) and NODES_FILE_KEY in document:
        offline = {key: value for key, value in document.items() if key != NODES_FILE_KEY}
        nodes_file = file.parent / str(document[NODES_FILE_KEY])
        document = _read_yaml(nodes_file)
    parameters = merge_sections(node_sections(document, nodes_file), nodes_file)
    clash = sorted(set(offline) & set(parameters))
    if clash:
        raise ConfigError(f"{file}: groups {clash} belong to {nodes_file} (the nodes' file), not the replay's")
    return {**parameters, **offline}


def load_config(path: Path | str) -> PipelineConfig:
    """Read the nodes' parameter file (``config/pipeline.yaml``) or the replay's (``config/replay.yaml``, which
    names the nodes' file); ConfigError naming the file and the parameter for anything wrong."""
    parameters = read_parameter_file(path)
    try:
        return config_from_parameters(parameters)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error


def set_parameters(document: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A nodes' parameter file (as loaded YAML) with ``{"group.name": value}`` set where each is held (the
    ``/**`` section for a parameter held nowhere yet); for tests and benchmarks that vary a shipped file."""
    for name, value in values.items():
        group, key = name.split(".", 1)
        holders = [
            body["ros__parameters"]
            for body in document.values()
            if key in ((body.get("ros__parameters") or {}).get(group) or {})
        ]
        target = holders[0] if holders else document["/**"].setdefault("ros__parameters", {})
        target.setdefault(group, {})[key] = value
    return document


def flatten_parameters(config: PipelineConfig) -> dict[str, Any]:
    """``{"group.name": value}`` of every parameter, as ROS 2 nodes declare them."""
    flat: dict[str, Any] = {}
    for group in dataclasses.fields(config):
        value = getattr(config, group.name)
        for item in dataclasses.fields(value):
            if item.name in derived_fields(type(value)):
                continue
            flat[f"{group.name}.{item.name}"] = getattr(getattr(config, group.name), item.name)
    return flat


def parameter_declarations(config_cls: type[Any] = PipelineConfig) -> dict[str, Declaration]:
    """``{"group.name": Declaration}`` of every parameter (default, description, range, unit), in YAML order."""
    hints = get_type_hints(config_cls)
    return {d.name: d for group in dataclasses.fields(config_cls) for d in group_declarations(hints[group.name])}


def parameter_descriptions(config_cls: type[Any] = PipelineConfig) -> dict[str, str]:
    """``{"group.name": description}`` of every parameter."""
    return {name: d.description for name, d in parameter_declarations(config_cls).items()}


__all__ = [
    "SELF_SUPERVISED_POSE_SOURCES",
    "DepthPriorConfig",
    "EvaluationConfig",
    "FusionConfig",
    "KeyframeConfig",
    "MatchingConfig",
    "NodesConfig",
    "OdometryConfig",
    "PipelineConfig",
    "PoseFreeConfig",
    "ReplayConfig",
    "SceneConfig",
    "SelfSupervisedConfig",
    "SyncConfig",
    "TrackingConfig",
    "TrainerConfig",
    "config_from_parameters",
    "flatten_parameters",
    "load_config",
    "parameter_declarations",
    "parameter_descriptions",
    "read_parameter_file",
    "set_parameters",
]
