"""Node parameters from :class:`PipelineConfig`: declaration and read-back, testable without rclpy.

Every node declares the ``group.name`` parameters it reads (for example ``scene.max_depth_m``; its
:class:`~stereo_nerf_ros.node_specs.NodeSpec`'s ``parameters``) from the
declarations of :class:`PipelineConfig` (``config_checks.param``: default, description with its unit and,
where declared, the range as ``floating_point_range`` / ``integer_range``); the launch file passes
``config/pipeline.yaml`` as the node's parameter file, which overrides the defaults. Parameters are
read-only, except the front-end's tunable ones (:func:`is_tunable`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from stereo_nerf_core.config import PipelineConfig, config_from_parameters, flatten_parameters, parameter_declarations
from stereo_nerf_core.config_checks import Declaration
from stereo_nerf_core.errors import ConfigError


def parameter_ranges() -> dict[str, tuple[float, float]]:
    """``{"group.name": (low, high)}`` of every declared range (inclusive; ``config_checks.param``)."""
    return {
        name: (d.low, d.high)
        for name, d in parameter_declarations().items()
        if d.low is not None and d.high is not None
    }


def describe(declaration: Declaration) -> str:
    """The ROS descriptor's description: the declared one, with its unit."""
    unit = f" [{declaration.unit}]" if declaration.unit else ""
    return f"{declaration.description}{unit}"


def pipeline_groups() -> tuple[str, ...]:
    """Parameter groups of :class:`PipelineConfig`, in declaration order (``sync``, ``depth_prior``, ...)."""
    return tuple(dict.fromkeys(name.split(".", 1)[0] for name in flatten_parameters(PipelineConfig())))


def default_parameters(selection: Iterable[str] | None = None) -> dict[str, Any]:
    """``{"group.name": default}`` of the selected groups (``"trainer"``) and parameters (``"nodes.frame_cache"``),
    in declaration order (everything when None); an unknown group or parameter raises ConfigError."""
    defaults = flatten_parameters(PipelineConfig())
    if selection is None:
        return defaults
    wanted = set(selection)
    unknown = sorted(item for item in wanted if item not in defaults and item not in pipeline_groups())
    if unknown:
        raise ConfigError(f"unknown parameter group(s) or parameter(s) {unknown}; groups: {list(pipeline_groups())}")
    return {name: value for name, value in defaults.items() if name in wanted or name.split(".", 1)[0] in wanted}


TUNABLE_GROUPS = ("scene", "depth_prior", "matching")
"""Front-end groups (and the depth range) a running node may change (``ros2 param set``), where the node
reconfigures its stage."""
STARTUP_ONLY = frozenset(
    {
        "depth_prior.backend",
        "depth_prior.model_path",
        "depth_prior.device",
        "depth_prior.self_supervised_weights_path",
        "depth_prior.threads",
        "matching.method",
        "matching.learned_weights_path",
        "matching.learned_device",
    }
)
"""Parameters of the tunable groups that load a model or set up threads: read at start-up only."""


def is_tunable(name: str) -> bool:
    """Whether ``group.name`` may change on a running node that reconfigures its stage."""
    return name.split(".", 1)[0] in TUNABLE_GROUPS and name not in STARTUP_ONLY


def updated_config(
    get_value: Callable[[str], Any], changes: Mapping[str, Any], groups: Iterable[str]
) -> PipelineConfig:
    """The config with ``changes`` (``{"group.name": value}``) over the current values; ConfigError naming the
    parameter for a value the config refuses or a parameter that is read at start-up only."""
    fixed = sorted(name for name in changes if not is_tunable(name))
    if fixed:
        raise ConfigError(f"{', '.join(fixed)}: read at start-up only (restart the node to change it)")
    return read_pipeline_config(lambda name: changes[name] if name in changes else get_value(name), groups)


def declare_pipeline_parameters(
    node: Any,
    groups: Iterable[str],
    *,
    tunable: bool = False,
    descriptor_type: Callable[..., Any] | None = None,
    range_types: tuple[Callable[..., Any], Callable[..., Any]] | None = None,
) -> list[str]:
    """Declare every ``group.name`` of ``groups`` on ``node``; returns the names declared.

    All are read-only, except, with ``tunable``, those :func:`is_tunable` accepts.

    ``node`` needs ``declare_parameter(name, value, descriptor)`` (an ``rclpy.node.Node``).
    ``descriptor_type`` builds the descriptors (keyword arguments ``description``, ``read_only``,
    ``floating_point_range`` and ``integer_range``) and ``range_types`` the (float, integer) ranges
    (keyword arguments ``from_value``, ``to_value``, ``step``); by default they are rcl_interfaces'
    ``ParameterDescriptor``, ``FloatingPointRange`` and ``IntegerRange``, imported only here (with
    a ``descriptor_type`` given, ranges default to plain namespaces).
    """
    if descriptor_type is None:
        from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

        descriptor_type = ParameterDescriptor
        range_types = range_types or (FloatingPointRange, IntegerRange)
    float_range, integer_range = range_types or (SimpleNamespace, SimpleNamespace)
    declarations = parameter_declarations()
    ranges = parameter_ranges()
    declared: list[str] = []
    for name, default in default_parameters(groups).items():
        extra: dict[str, Any] = {}
        if name in ranges and not isinstance(default, bool):
            low, high = ranges[name]
            if isinstance(default, int):
                extra["integer_range"] = [integer_range(from_value=int(low), to_value=int(high), step=0)]
            else:
                extra["floating_point_range"] = [float_range(from_value=float(low), to_value=float(high), step=0.0)]
        read_only = not (tunable and is_tunable(name))
        descriptor = descriptor_type(description=describe(declarations[name]), read_only=read_only, **extra)
        node.declare_parameter(name, default, descriptor)
        declared.append(name)
    return declared


def read_pipeline_config(get_value: Callable[[str], Any], groups: Iterable[str] | None = None) -> PipelineConfig:
    """Rebuild the :class:`PipelineConfig` from the values of the selected parameters (``groups``: as
    :func:`default_parameters` takes them); the others keep their defaults.

    ``get_value(name)`` returns a declared parameter's value, for example
    ``lambda name: node.get_parameter(name).value``. Invalid values raise ConfigError naming them.
    """
    nested: dict[str, dict[str, Any]] = {}
    for name in default_parameters(groups):
        group, key = name.split(".", 1)
        nested.setdefault(group, {})[key] = get_value(name)
    return config_from_parameters(nested)
