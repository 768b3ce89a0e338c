"""``stereo-nerf align-silhouette``: outputs of a small two-view run and one-line errors for bad inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import open3d as o3d
import pytest

from stereo_nerf_core.alignment import Mesh, pose_errors
from stereo_nerf_core.alignment.synthetic import render_masks
from stereo_nerf_core.cli import main
from stereo_nerf_core.geometry import make_se3, rotation_about_axis
from tests.alignment.alignment_helpers import make_case


@pytest.fixture
def files(tmp_path: Path, mesh: Mesh) -> dict[str, Path]:
    """A mesh, two masks of a rectified stereo pair (96x72 px), K, T_left_right and a start 10 degrees off."""
    case = make_case(mesh, size=96)
    K = case.K.copy()
    K[1, 2] -= 12.0  # 96x72 images
    right = make_se3(np.eye(3), [0.005, 0.0, 0.0])
    legacy = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(mesh.vertices), o3d.utility.Vector3iVector(mesh.faces.astype(np.int32))
    )
    paths = {name: tmp_path / name for name in ("mesh.ply", "left.png", "right.png", "K.txt", "T_lr.txt")}
    assert o3d.io.write_triangle_mesh(str(paths["mesh.ply"]), legacy)
    for name, T_view in (("left.png", case.T_true), ("right.png", np.linalg.inv(right) @ case.T_true)):
        cv2.imwrite(str(paths[name]), render_masks(mesh, T_view, K, 96, 72).astype(np.uint8) * 255)
    np.savetxt(paths["K.txt"], K)
    np.savetxt(paths["T_lr.txt"], right)
    R = rotation_about_axis([0.0, 1.0, 0.0], np.radians(10.0)) @ case.T_true[:3, :3]
    paths["init.txt"] = tmp_path / "init.txt"
    np.savetxt(paths["init.txt"], make_se3(R, case.T_true[:3, 3] + case.T_true[:3, :3] @ mesh.centre - R @ mesh.centre))
    paths["truth.txt"] = tmp_path / "truth.txt"
    np.savetxt(paths["truth.txt"], case.T_true)
    return paths


def test_two_view_run_writes_pose_result_gif_and_png(files: dict[str, Path], tmp_path: Path, mesh: Mesh) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "align-silhouette", str(files["mesh.ply"]), "--mask", str(files["left.png"]), "--mask",
            str(files["right.png"]), "--relative-pose", str(files["T_lr.txt"]), "--K", str(files["K.txt"]),
            "--init-pose", str(files["init.txt"]), "--no-global-search", "--iterations", "60", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    pose = np.loadtxt(out / "pose.txt")
    rotation, translation = pose_errors(pose, np.loadtxt(files["truth.txt"]), centre=mesh.centre)
    assert rotation < 3.0 and translation < 0.02
    summary = json.loads((out / "result.json").read_text())
    assert summary["iterations"] == 60 and summary["refined_starts"] == 1 and summary["triangles"] == 352
    assert len(summary["iou"]) == 2 and min(summary["iou"].values()) > 0.95
    assert np.allclose(summary["T_camera_object"], pose, atol=1e-8)
    gif = iio.imread(out / "optimisation.gif")
    assert gif.shape[0] == 60 // 5 + 1 and gif.shape[3] == 3
    assert iio.imread(out / "comparison.png").shape[0] > 100


def test_bad_inputs_exit_2_with_one_line_naming_the_problem(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((72, 96), np.uint8))
    base = ["align-silhouette", str(files["mesh.ply"]), "--K", str(files["K.txt"]), "--out", str(tmp_path / "o")]
    cases = [
        (["--mask", str(empty)], r"mask of view 0 \(.*empty\.png\) is empty"),
        (["--mask", str(files["left.png"]), "--mask", str(files["right.png"])], "--relative-pose is needed once"),
        (["--mask", str(files["left.png"]), "--image-size", "640", "480"], "is 96x72 but its intrinsics are for 640x"),
        (["--mask", str(tmp_path / "nope.png")], r"mask file .*nope\.png is missing"),
        (["--mask", str(files["left.png"]), "--mask", str(files["right.png"]), "--relative-pose", str(files["K.txt"])],
         r"relative pose file .*K\.txt must hold a 4x4 matrix"),
        (["--mask", str(files["left.png"]), "--no-global-search"], "initial pose"),
    ]  # fmt: skip
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("stereo-nerf align-silhouette: error:") and "\n" not in error
        assert re.search(message, error), error
    missing = ["align-silhouette", str(tmp_path / "none.ply"), "--mask", str(files["left.png"]), "--fx", "90"]
    assert main([*missing, "--fy", "90", "--cx", "47.5", "--cy", "35.5", "--out", str(tmp_path / "o")]) == 2
    assert "none.ply does not exist" in capsys.readouterr().err
