"""Methods as config entries: all four compared in one short replay, and bad method names.

A tiny trainer (a few dozen steps of 256 rays on a small hash grid) keeps this fast; the real figures
come from ``make demo`` (see the README).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from stereo_nerf_core.cli import main
from stereo_nerf_core.config import PipelineConfig, load_config
from stereo_nerf_core.errors import ConfigError
from stereo_nerf_core.importers.calibration import RectifiedPair
from stereo_nerf_core.importers.studies import load_studies
from stereo_nerf_core.importers.writer import ImportOptions, write_recording
from stereo_nerf_core.pipeline.errors import ReplayError
from stereo_nerf_core.pipeline.methods import METHODS, check_method_names
from stereo_nerf_core.pipeline.replay import ReplaySummary, run_replay
from stereo_nerf_core.pipeline.splits import held_out_stamps
from tests.conftest import REPLAY_CONFIG, SAMPLE_BAG, SHIPPED_METHODS, replay_yaml_with
from tests.importers.helpers import BASELINE_M, FX, write_study

FRAMES = 12


def tiny_config(**replay: object) -> PipelineConfig:
    """The shipped config with a trainer small enough for tests."""
    config = load_config(REPLAY_CONFIG)
    trainer = replace(
        config.trainer, rays_per_batch=256, grid_levels=6, grid_log2_table_size=14, grid_max_resolution=256,
        coarse_samples=16, importance_samples=8, prior_samples=8, uniform_samples=4,
    )
    settings = {"train_steps": 30, "timeline_every": 6, "turntable_views": 2, "mesh_resolution": 48, **replay}
    return replace(config, trainer=trainer, replay=replace(config.replay, **settings))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> ReplaySummary:
    out = tmp_path_factory.mktemp("methods")
    return run_replay(SAMPLE_BAG, tiny_config(), out, progress=False, max_frames=FRAMES)


def test_the_methods_are_scored_in_config_order(replayed: ReplaySummary) -> None:
    metrics = replayed.metrics
    baselines = ["nearest_frame", "neighbour_blend", "stereo_prior"]
    assert list(metrics["methods"]) == [*baselines, "tsdf_fusion", "nerf", "sdf"]
    assert metrics["frames"]["held_out"] == [0, 8]  # every 8th frame
    inputs = {name: entry["inputs"] for name, entry in metrics["methods"].items()}
    # prior and fusion take the 10 frames not held out; the trainers every 2nd of them: 2, 4, 6, 10
    assert inputs == {"nearest_frame": 10, "neighbour_blend": 10, "stereo_prior": 10, "tsdf_fusion": 10, "nerf": 4,
                      "sdf": 4}
    for name in ("nerf", "sdf"):
        assert metrics["methods"][name]["training"]["steps"] == 30
        # scored on the same frames and ground-truth pixels as the prior, and covering them
        tissue = metrics["methods"][name]["depth"]["tissue"]
        prior = metrics["methods"]["stereo_prior"]["depth"]["tissue"]
        assert tissue["n_valid_gt"] == prior["n_valid_gt"] and tissue["coverage"] > 0.9


def test_every_method_renders_the_held_out_views(replayed: ReplaySummary) -> None:
    for name, entry in replayed.metrics["methods"].items():
        held = entry["novel_views"]["held_out"]
        assert set(held) == {"all", "no_instruments"}
        assert held["no_instruments"]["frames"] == 2, name
        assert 10.0 < held["no_instruments"]["psnr_db"] < 60.0, name
        assert (held["all"]["lpips"] is None and held["all"]["lpips_unavailable"]) or held["all"]["lpips"] >= 0
    for baseline in ("nearest_frame", "neighbour_blend", "stereo_prior"):
        assert "train" not in replayed.metrics["methods"][baseline]["novel_views"]  # its input is its view
    assert replayed.metrics["methods"]["tsdf_fusion"]["novel_views"]["train"]["all"]["frames"] == 10


def test_the_front_end_figures_hold_with_held_out_frames(replayed: ReplaySummary) -> None:
    methods = replayed.metrics["methods"]
    prior, fused = methods["stereo_prior"]["depth"]["tissue"], methods["tsdf_fusion"]["depth"]["tissue"]
    assert prior["abs_rel"] < 0.012 and fused["abs_rel"] < prior["abs_rel"]
    assert methods["tsdf_fusion"]["surface"]["accuracy_median_m"] < 0.001


def test_timeline_cost_and_outputs(replayed: ReplaySummary) -> None:
    metrics, out = replayed.metrics, replayed.out_dir
    assert [point["frames"] for point in metrics["timeline"]] == [6, 12]  # after 6 frames and at the end
    assert metrics["timeline"][-1]["methods"]["nerf"]["inputs"] == 4
    for name in ("nearest_frame", "neighbour_blend"):
        assert "timing" not in metrics["methods"][name]  # baselines without a cost of their own
    for name, entry in metrics["methods"].items():
        if name in ("nearest_frame", "neighbour_blend"):
            continue
        timing = entry["timing"]
        assert timing["seconds"] > 0 and timing["fps"] > 0 and timing["peak_rss_peak_mib"] > 100, name
    assert metrics["resources"]["rss_peak_mib"] > 100
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["schema_version"] == 2 and on_disk["rate"] is None
    report = (out / "report.md").read_text()
    for heading in ("Novel views: held-out frames, without instrument pixels", "Metrics over time", "Timing"):
        assert heading in report
    assert "TODO" not in report
    for figure in ("trajectory.png", "metrics_over_time.png", "turntable.png", "novel_view_frame00008.png"):
        assert figure in " ".join(metrics["figures"])
    for figure in metrics["figures"]:
        assert (out / figure).stat().st_size > 10_000 and f"]({figure})" in report
    assert metrics["meshes"]["tsdf_fusion"] == "fused_mesh.ply"


def test_an_unknown_method_is_named_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match=r"parameter replay.methods: unknown method\(s\) 'nerff'; known: "
                       r"nearest_frame, neighbour_blend, stereo_prior, tsdf_fusion, nerf, sdf, deformable, "
                       r"deformable_sdf"):
        run_replay(SAMPLE_BAG, tiny_config(methods=["stereo_prior", "nerff"]), tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing was started
    check_method_names(list(METHODS))
    yaml_file = replay_yaml_with(tmp_path / "bad.yaml", SHIPPED_METHODS, "methods: [sfm]")
    assert main(["replay", str(SAMPLE_BAG), "--config", str(yaml_file), "--out", str(tmp_path / "cli")]) == 2
    replay_yaml_with(yaml_file, SHIPPED_METHODS, "methods: nerf")
    with pytest.raises(ConfigError, match=r"parameter replay\.methods must be a list of strings"):
        load_config(yaml_file)


def test_a_test_list_in_the_bag_metadata_picks_the_held_out_frames(tmp_path: Path) -> None:
    bag = tmp_path / "bag"
    bag.mkdir()
    frames = {"a.png": 10, "b.png": 20, "c.png": 30}
    custom = {"stereo_nerf.frames": json.dumps(frames), "stereo_nerf.splits": json.dumps({"test": ["b.png"]})}
    metadata = {"rosbag2_bagfile_information": {"custom_data": custom}}
    (bag / "metadata.yaml").write_text(json.dumps(metadata))  # JSON is YAML
    assert held_out_stamps(bag) == {20}
    assert held_out_stamps(SAMPLE_BAG) is None
    custom["stereo_nerf.splits"] = json.dumps({"test": ["z.png"]})
    (bag / "metadata.yaml").write_text(json.dumps(metadata))
    with pytest.raises(ReplayError, match=r"metadata.yaml: test frames \['z.png'\] have no stamp"):
        held_out_stamps(bag)


def test_a_study_test_list_is_held_out_in_the_replay(tmp_path: Path) -> None:
    root = write_study(tmp_path / "exp", frames=4)
    (root / "test.txt").write_text("000002.png\n")
    bag = tmp_path / "bag"
    write_recording(load_studies(root, rectified=RectifiedPair(fx=FX, baseline_m=BASELINE_M)), bag, ImportOptions(
        progress=False
    ))
    summary = run_replay(bag, tiny_config(methods=["stereo_prior", "tsdf_fusion"]), tmp_path / "out", progress=False)
    assert summary.metrics["frames"]["held_out"] == [2]  # the list, not every 8th frame (which would be frame 0)
    assert summary.metrics["protocol"]["held_out"] == "the bag's test list"
    assert summary.metrics["frames"]["processed"] == 4
