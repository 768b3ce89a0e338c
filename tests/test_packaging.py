"""The pyproject extras: the core installs without the heavy packages, and the front-end really runs without them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "kornia", "scikit-image", "open3d-cpu", "pycolmap", "matplotlib"}
BLOCKED_MODULES = "torch,kornia,skimage,open3d,pycolmap,matplotlib,lpips"
BLOCKER = """
import importlib.abc, sys
blocked = set(sys.argv[1].split(","))
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is not installed (blocked)")
sys.meta_path.insert(0, Blocker())
for module in sys.argv[2:]:
    __import__(module)
"""


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    return {requirement.split("[")[0].split(">")[0].split("=")[0].strip() for requirement in requirements}


def test_the_core_leaves_the_heavy_packages_to_the_extras() -> None:
    project = _project()
    extras = project["optional-dependencies"]
    assert not _names(project["dependencies"]) & HEAVY
    assert {"torch", "kornia", "scikit-image"} <= _names(extras["train"])
    assert _names(extras["fusion"]) == {"open3d-cpu"} and _names(extras["sfm"]) == {"pycolmap"}
    assert {"matplotlib", "open3d-cpu"} <= _names(extras["eval"])
    assert extras["all"] == ["stereo_nerf_core[train,fusion,sfm,eval]"]


def _import_without_heavy(*modules: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", BLOCKER, BLOCKED_MODULES, *modules]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False, timeout=120)


def test_the_front_end_and_the_command_line_import_without_the_extras() -> None:
    result = _import_without_heavy(
        "stereo_nerf_core.pipeline.node_stages",
        "stereo_nerf_core.pipeline.tracker_stage",
        "stereo_nerf_core.pipeline.trainer_stage",
        "stereo_nerf_core.pipeline.graph",
        "stereo_nerf_core.cli",
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(
    ("module", "missing"),
    [("stereo_nerf_core.training.trainer", "torch"), ("stereo_nerf_core.pipeline.replay", "open3d")],
)
def test_the_blocker_does_block(module: str, missing: str) -> None:
    """The check above means something: modules that need an extra fail to import without it."""
    result = _import_without_heavy(module)
    assert result.returncode != 0 and f"{missing} is not installed" in result.stderr


@pytest.mark.parametrize("folder", ["launch", "config"])
def test_the_top_level_folders_are_the_packages_own(folder: str) -> None:
    """One physical launch file and YAML: the top-level folders are links into the ROS package."""
    path = REPO / folder
    assert path.is_symlink() and path.resolve() == (REPO / "ros2_ws" / "src" / "stereo_nerf_ros" / folder).resolve()
