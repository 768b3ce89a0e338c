"""The main job on the committed sample bag: the figures the foundation promises, from a real replay.

The front-end methods only (``stereo_prior``, ``tsdf_fusion``); all four methods together are in
``test_replay_methods.py``. Frames 0, 8, ..., 40 are held out: not fused, scored as novel views.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import open3d as o3d
import pytest

from stereo_nerf_core.config import PipelineConfig, load_config
from stereo_nerf_core.pipeline.outputs import METRICS_SCHEMA_VERSION, read_depth_png
from stereo_nerf_core.pipeline.replay import ReplaySummary, run_replay
from stereo_nerf_core.synthetic.config import preset
from stereo_nerf_core.synthetic.scene import true_surface_mesh
from stereo_nerf_core.synthetic.world import build_world
from tests.conftest import REPLAY_CONFIG, SAMPLE_BAG


def front_end_config() -> PipelineConfig:
    config = load_config(REPLAY_CONFIG)
    return replace(config, replay=replace(config.replay, methods=["stereo_prior", "tsdf_fusion"]))


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> ReplaySummary:
    return run_replay(SAMPLE_BAG, front_end_config(), tmp_path_factory.mktemp("demo"), progress=False)


def _depth(summary: ReplaySummary, method: str, region: str) -> dict[str, Any]:
    return summary.metrics["methods"][method]["depth"][region]


def test_odometry_poses_are_within_a_tenth_of_a_millimetre(replayed: ReplaySummary) -> None:
    trajectory = replayed.metrics["trajectory"]
    assert trajectory["pose_source"] == "odometry" and trajectory["frames_without_pose"] == 0
    assert trajectory["frames"] == 44
    assert trajectory["ate"]["rmse_m"] < 0.001  # the front-end's target; measured about 0.1 mm
    assert trajectory["ate"]["rmse_m"] < 0.0003


def test_every_pair_of_the_sample_bag_is_processed(replayed: ReplaySummary) -> None:
    frames = replayed.metrics["frames"]
    assert replayed.complete
    assert (frames["processed"], frames["evaluated"], frames["pairs"]) == (44, 44, 44)
    assert (frames["dropped_left"], frames["dropped_right"], frames["dropped_by_rate"]) == (0, 0, 0)
    assert frames["held_out"] == [0, 8, 16, 24, 32, 40]
    assert replayed.metrics["methods"]["tsdf_fusion"]["inputs"] == 38


def test_prior_tissue_abs_rel_and_coverage(replayed: ReplaySummary) -> None:
    tissue = _depth(replayed, "stereo_prior", "tissue")
    assert tissue["abs_rel"] <= 0.05  # the foundation's target
    assert tissue["abs_rel"] <= 0.012  # measured 0.0079: guards against regressions
    assert tissue["coverage"] >= 0.9
    assert tissue["a1"] >= 0.99
    everything = _depth(replayed, "stereo_prior", "all")
    assert everything["n_valid_gt"] > tissue["n_valid_gt"]  # instruments and highlights are in "all"


def test_fusion_beats_the_single_frame_prior_on_tissue(replayed: ReplaySummary) -> None:
    fused, prior = _depth(replayed, "tsdf_fusion", "tissue"), _depth(replayed, "stereo_prior", "tissue")
    assert fused["abs_rel"] < prior["abs_rel"]
    assert fused["coverage"] >= prior["coverage"]


def test_fused_mesh_lies_within_a_millimetre_of_the_true_tissue_surface(replayed: ReplaySummary) -> None:
    surface = replayed.metrics["methods"]["tsdf_fusion"]["surface"]
    assert surface["accuracy_median_m"] <= 0.001  # against the ground-truth depth cloud
    # and against the analytic surface the sample was rendered from (exact point-to-triangle distance)
    world = build_world(preset("sample"))
    mesh = o3d.io.read_triangle_mesh(str(replayed.out_dir / "fused_mesh.ply"))
    # the mesh is in the odometry's world (first camera at the origin): align it with the truth's
    T_truth_world = np.array(replayed.metrics["trajectory"]["T_truth_world"])
    vertices = np.asarray(mesh.vertices) @ T_truth_world[:3, :3].T + T_truth_world[:3, 3]
    low, high = vertices.min(axis=0) - 0.005, vertices.max(axis=0) + 0.005
    truth_vertices, truth_triangles = true_surface_mesh(
        world.surface, (low[0], high[0]), (low[1], high[1]), spacing_m=0.0002
    )
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(truth_vertices.astype(np.float32), truth_triangles.astype(np.uint32))
    distances = scene.compute_distance(vertices.astype(np.float32)).numpy()
    assert np.median(distances) <= 0.001
    assert np.median(distances) <= 0.0004  # measured about 0.2 mm
    assert len(vertices) > 20_000


def test_outputs_on_disk(replayed: ReplaySummary) -> None:
    out = replayed.out_dir
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["schema_version"] == METRICS_SCHEMA_VERSION
    baselines_first = ["nearest_frame", "neighbour_blend", "stereo_prior", "tsdf_fusion"]
    assert list(metrics["methods"]) == baselines_first
    assert metrics["protocol"]["max_depth_m"] == 0.3 and metrics["protocol"]["median_scaling"] is False
    pngs = sorted((out / "depth_prior").glob("*.png"))
    assert len(pngs) == 44
    depth = read_depth_png(pngs[0])
    assert depth.shape == (256, 320) and 0.05 < np.median(depth[depth > 0]) < 0.12  # tissue at 68-101 mm
    report = (out / "report.md").read_text()
    assert "Depth: tissue region" in report and "TODO" not in report
    for figure in metrics["figures"]:
        assert (out / figure).stat().st_size > 20_000 and f"]({figure})" in report
    assert len(o3d.io.read_point_cloud(str(out / "fused_cloud.ply")).points) > 20_000
    assert replayed.one_line().startswith("replay done: 44 pairs")
