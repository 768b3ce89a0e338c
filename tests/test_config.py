from pathlib import Path

import pytest
import yaml

from stereo_nerf_core.config import (
    PipelineConfig,
    config_from_parameters,
    flatten_parameters,
    load_config,
    parameter_descriptions,
    set_parameters,
)
from stereo_nerf_core.errors import ConfigError
from tests.conftest import CONFIG, REPLAY_CONFIG


def test_shipped_yaml_equals_the_dataclass_defaults() -> None:
    assert load_config(CONFIG) == PipelineConfig()  # the offline groups are not in the nodes' file: defaults


def test_every_parameter_has_a_description() -> None:
    assert set(parameter_descriptions()) == set(flatten_parameters(PipelineConfig()))
    assert all(text.strip() for text in parameter_descriptions().values())


def test_overrides_and_int_to_float() -> None:
    config = config_from_parameters({"scene": {"max_depth_m": 1}, "sync": {"queue_size": 3}})
    assert config.scene.max_depth_m == 1.0 and config.sync.queue_size == 3


def test_one_depth_range_serves_every_stage() -> None:
    config = config_from_parameters({"scene": {"min_depth_m": 0.05, "max_depth_m": 0.12}})
    for stage in (config.depth_prior, config.matching):
        assert (stage.min_depth_m, stage.max_depth_m) == (0.05, 0.12)
    assert config.evaluation.max_depth_m == 0.12 and config.evaluation.min_depth_m == 0.001  # ground-truth validity
    assert config.fusion.max_depth_m == 0.2  # fusion's own truncation (offline)
    with pytest.raises(ConfigError, match=r"matching\.max_depth_m is set by scene\.max_depth_m"):
        config_from_parameters({"matching": {"max_depth_m": 0.2}})
    assert "depth_prior.min_depth_m" not in flatten_parameters(config)


def test_nodes_file_and_replay_file(tmp_path: Path) -> None:
    assert load_config(REPLAY_CONFIG) == PipelineConfig()
    nodes = yaml.safe_load(CONFIG.read_text())
    assert set(nodes) == {"/**", "/**/stereo_frontend", "/**/depth_prior", "/**/tracker", "/**/trainer"}
    assert set(nodes["/**/trainer"]["ros__parameters"]) == {"trainer", "nodes"}
    set_parameters(nodes, {"trainer.rays_per_batch": 64, "scene.max_depth_m": 0.2})
    assert nodes["/**/trainer"]["ros__parameters"]["trainer"]["rays_per_batch"] == 64  # where it is held
    (tmp_path / "nodes.yaml").write_text(yaml.safe_dump(nodes))
    (tmp_path / "replay.yaml").write_text("nodes_parameters: nodes.yaml\nreplay: {held_out_every: 4}\n")
    config = load_config(tmp_path / "replay.yaml")
    assert config.trainer.rays_per_batch == 64 and config.replay.held_out_every == 4
    assert config.depth_prior.max_depth_m == 0.2 and config.evaluation.max_depth_m == 0.2
    clashing = {**nodes, "/**/tracker": {"ros__parameters": {"sync": {"slop_s": 0.5}}}}  # /** has 0.005
    (tmp_path / "clash.yaml").write_text(yaml.safe_dump(clashing))
    with pytest.raises(ConfigError, match=r"clash.yaml: sync.slop_s is 0.005 in /\*\* but 0.5 in /\*\*/tracker"):
        load_config(tmp_path / "clash.yaml")
    (tmp_path / "replay.yaml").write_text("nodes_parameters: nodes.yaml\ntrainer: {seed: 1}\n")
    with pytest.raises(ConfigError, match=r"groups \['trainer'\] belong to .*nodes.yaml"):
        load_config(tmp_path / "replay.yaml")
    (tmp_path / "replay.yaml").write_text("nodes_parameters: missing.yaml\n")
    with pytest.raises(ConfigError, match=r"missing.yaml: config file not found"):
        load_config(tmp_path / "replay.yaml")


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
