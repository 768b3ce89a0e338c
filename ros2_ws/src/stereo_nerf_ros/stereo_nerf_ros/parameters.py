"""Node parameters from :class:`PipelineConfig`: declaration and read-back, testable without rclpy.

Every node declares ``group.name`` parameters (for example ``depth_prior.max_depth_m``) with the
defaults of :class:`PipelineConfig` and the field docstrings as descriptions; the launch file passes
``config/pipeline.yaml`` as the node's parameter file, which overrides the defaults. Parameters are
read once at start-up, so they are declared read-only (``ros2 param set`` is refused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from stereo_nerf_core.config import PipelineConfig, config_from_parameters, flatten_parameters, parameter_descriptions
from stereo_nerf_core.errors import ConfigError


def pipeline_groups() -> tuple[str, ...]:
    """Parameter groups of :class:`PipelineConfig`, in declaration order (``sync``, ``depth_prior``, ...)."""
    return tuple(dict.fromkeys(name.split(".", 1)[0] for name in flatten_parameters(PipelineConfig())))


def default_parameters(groups: Iterable[str] | None = None) -> dict[str, Any]:
    """``{"group.name": default}`` of the given groups (all groups when None); unknown groups raise ConfigError."""
    defaults = flatten_parameters(PipelineConfig())
    if groups is None:
        return defaults
    wanted = tuple(groups)
    unknown = sorted(set(wanted) - set(pipeline_groups()))
    if unknown:
        raise ConfigError(f"unknown parameter group(s) {unknown}; known: {list(pipeline_groups())}")
    return {name: value for name, value in defaults.items() if name.split(".", 1)[0] in wanted}


def declare_pipeline_parameters(
    node: Any, groups: Iterable[str], *, descriptor_type: Callable[..., Any] | None = None
) -> list[str]:
    """Declare every ``group.name`` of ``groups`` on ``node``; returns the names declared.

    ``node`` needs ``declare_parameter(name, value, descriptor)`` (an ``rclpy.node.Node``).
    ``descriptor_type`` builds the descriptors (keyword arguments ``description`` and ``read_only``);
    by default it is ``rcl_interfaces.msg.ParameterDescriptor``, imported only here.
    """
    if descriptor_type is None:
        from rcl_interfaces.msg import ParameterDescriptor

        descriptor_type = ParameterDescriptor
    descriptions = parameter_descriptions()
    declared: list[str] = []
    for name, default in default_parameters(groups).items():
        description = descriptions.get(name, "")
        node.declare_parameter(name, default, descriptor_type(description=description, read_only=True))
        declared.append(name)
    return declared


def read_pipeline_config(get_value: Callable[[str], Any], groups: Iterable[str] | None = None) -> PipelineConfig:
    """Rebuild the :class:`PipelineConfig` from parameter values; groups not read keep their defaults.

    ``get_value(name)`` returns a declared parameter's value, for example
    ``lambda name: node.get_parameter(name).value``. Invalid values raise ConfigError naming them.
    """
    nested: dict[str, dict[str, Any]] = {}
    for name in default_parameters(groups):
        group, key = name.split(".", 1)
        nested.setdefault(group, {})[key] = get_value(name)
    return config_from_parameters(nested)
