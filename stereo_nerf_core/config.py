"""Typed pipeline configuration, read from the ROS 2 parameter YAML shared with the nodes.

The YAML has one ``/**: ros__parameters:`` section whose groups (``sync``, ``depth_prior``, ...)
map onto the group dataclasses; a node declares the same names as ``group.field`` parameters. The groups live
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

from stereo_nerf_core.config_checks import Declaration, group_declarations
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.frontend_config import (
    DepthPriorConfig,
    KeyframeConfig,
    MatchingConfig,
    OdometryConfig,
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
    """Every stage's parameters; loaded with :func:`load_config`."""

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


def _build(cls: type[Any], group: str, values: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
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


def load_config(path: Path | str) -> PipelineConfig:
    """Read the pipeline YAML (ROS 2 parameter file with a ``/**: ros__parameters:`` section)."""
    file = Path(path)
    try:
        document = yaml.safe_load(file.read_text())
    except FileNotFoundError as error:
        raise ConfigError(f"{file}: config file not found") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{file}: not valid YAML: {error}") from error
    try:
        parameters = document["/**"]["ros__parameters"]
    except (TypeError, KeyError) as error:
        raise ConfigError(f"{file}: expected a '/**: ros__parameters:' section") from error
    try:
        return config_from_parameters(parameters or {})
    except ConfigError as error:
        raise ConfigError(f"{file}: {error}") from error


def flatten_parameters(config: PipelineConfig) -> dict[str, Any]:
    """``{"group.name": value}`` of every parameter, as ROS 2 nodes declare them."""
    flat: dict[str, Any] = {}
    for group in dataclasses.fields(config):
        for item in dataclasses.fields(getattr(config, group.name)):
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
    "SelfSupervisedConfig",
    "SyncConfig",
    "TrackingConfig",
    "TrainerConfig",
    "config_from_parameters",
    "flatten_parameters",
    "load_config",
    "parameter_declarations",
    "parameter_descriptions",
]
