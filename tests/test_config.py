from pathlib import Path

import pytest

from stereo_nerf_core.config import (
    PipelineConfig,
    config_from_parameters,
    flatten_parameters,
    load_config,
    parameter_descriptions,
)
from stereo_nerf_core.errors import ConfigError
from tests.conftest import CONFIG


def test_shipped_yaml_equals_the_dataclass_defaults() -> None:
    assert load_config(CONFIG) == PipelineConfig()


def test_every_parameter_has_a_description() -> None:
    assert set(parameter_descriptions()) == set(flatten_parameters(PipelineConfig()))
    assert all(text.strip() for text in parameter_descriptions().values())


def test_overrides_and_int_to_float() -> None:
    config = config_from_parameters({"depth_prior": {"max_depth_m": 1}, "sync": {"queue_size": 3}})
    assert config.depth_prior.max_depth_m == 1.0 and config.sync.queue_size == 3


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"depth_prior": {"max_dept_m": 0.2}}, "unknown parameter depth_prior.max_dept_m"),
        ({"deptprior": {}}, "unknown parameter group 'deptprior'"),
        ({"sync": {"queue_size": "ten"}}, "sync.queue_size must be int"),
        ({"depth_prior": {"block_size": 4}}, "depth_prior.block_size must be odd"),
        ({"sync": {"slop_s": -1.0}}, r"sync.slop_s = -1.0 is out of range"),
        ({"fusion": {"mask_instruments": 1}}, "fusion.mask_instruments must be bool"),
    ],
)
def test_bad_parameters_are_named(parameters: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_parameters(parameters)


def test_bad_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("depth_prior: {max_depth_m: 0.2}\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: expected a '/\*\*: ros__parameters:' section"):
        load_config(broken)
