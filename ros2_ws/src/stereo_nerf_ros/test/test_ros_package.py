"""The ament_python package is complete: package.xml, setup.py data files, resource marker, console script."""

from __future__ import annotations

import ast
import configparser
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "stereo_nerf_ros"


class _SetupDefinitions:
    """setup.py's constants and functions, executed without its setuptools import and setup() call."""

    def __init__(self) -> None:
        path = PACKAGE_ROOT / "setup.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        kept: list[ast.stmt] = [
            node
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.FunctionDef)
            or (isinstance(node, ast.ImportFrom) and node.module in ("__future__", "pathlib"))
        ]
        self.namespace: dict[str, Any] = {"__file__": str(path), "__name__": "setup_definitions"}
        exec(compile(ast.Module(body=kept, type_ignores=[]), str(path), "exec"), self.namespace)

    def data_files(self, root: Path | None = None) -> list[tuple[str, list[str]]]:
        function = self.namespace["data_files"]
        result: list[tuple[str, list[str]]] = function() if root is None else function(root)
        return result

    @property
    def console_scripts(self) -> list[str]:
        scripts: list[str] = self.namespace["CONSOLE_SCRIPTS"]
        return scripts


def _load_setup() -> _SetupDefinitions:
    return _SetupDefinitions()


def _setup_keywords() -> dict[str, ast.expr]:
    tree = ast.parse((PACKAGE_ROOT / "setup.py").read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setup"
    ]
    assert len(calls) == 1, "setup.py must call setup() exactly once"
    return {kw.arg: kw.value for kw in calls[0].keywords if kw.arg is not None}


@pytest.fixture(scope="module")
def manifest() -> ET.Element:
    return ET.parse(PACKAGE_ROOT / "package.xml").getroot()


def _tags(manifest: ET.Element, tag: str) -> set[str]:
    return {(element.text or "").strip() for element in manifest.findall(tag)}


def test_package_xml_is_format_3_ament_python(manifest: ET.Element) -> None:
    assert manifest.tag == "package"
    assert manifest.get("format") == "3"
    assert manifest.findtext("name") == PACKAGE
    assert manifest.findtext("export/build_type") == "ament_python"
    assert manifest.findtext("license")
    assert manifest.find("maintainer") is not None


def test_package_xml_dependencies(manifest: ET.Element) -> None:
    depends = _tags(manifest, "depend")
    for name in (
        "rclpy",
        "sensor_msgs",
        "geometry_msgs",
        "std_msgs",
        "tf2_msgs",
        "nav_msgs",
        "visualization_msgs",
        "message_filters",
        "launch",
        "launch_ros",
        "rcl_interfaces",
        "builtin_interfaces",
        "ament_index_python",
    ):
        assert name in depends, f"package.xml lacks <depend>{name}</depend>"
    exec_depends = _tags(manifest, "exec_depend") | depends
    assert {"rviz2", "ros2bag"} <= exec_depends
    assert {"launch_testing", "launch_testing_ros", "python3-pytest"} <= _tags(manifest, "test_depend")


def test_versions_agree(manifest: ET.Element) -> None:
    version = _setup_keywords()["version"]
    assert isinstance(version, ast.Constant)
    assert version.value == manifest.findtext("version")


def test_resource_marker_is_installed() -> None:
    assert (PACKAGE_ROOT / "resource" / PACKAGE).is_file()
    files = dict(_load_setup().data_files())
    assert files["share/ament_index/resource_index/packages"] == [f"resource/{PACKAGE}"]
    assert files[f"share/{PACKAGE}"] == ["package.xml"]


def test_setup_installs_every_launch_and_config_file() -> None:
    installed = {(target, source) for target, sources in _load_setup().data_files(PACKAGE_ROOT) for source in sources}
    for folder in ("launch", "config"):
        files = [
            path
            for path in (PACKAGE_ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        ]
        assert files, f"{folder}/ is empty"
        for path in files:
            source = path.relative_to(PACKAGE_ROOT).as_posix()
            target = f"share/{PACKAGE}/{path.parent.relative_to(PACKAGE_ROOT).as_posix()}"
            assert (target, source) in installed, f"setup.py does not install {source} into {target}"
    for _, source in installed:
        assert (PACKAGE_ROOT / source).is_file(), f"setup.py installs a missing file {source}"
    assert (f"share/{PACKAGE}/launch", "launch/pipeline.launch.py") in installed
    assert (f"share/{PACKAGE}/config", "config/pipeline.yaml") in installed
    assert (f"share/{PACKAGE}/config", "config/stereo_nerf.rviz") in installed


def test_setup_cfg_puts_scripts_where_ros2_run_finds_them() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(PACKAGE_ROOT / "setup.cfg")
    assert parser["develop"]["script_dir"] == f"$base/lib/{PACKAGE}"
    assert parser["install"]["install_scripts"] == f"$base/lib/{PACKAGE}"


def test_console_scripts_point_at_functions() -> None:
    setup = _load_setup()
    keywords = _setup_keywords()
    assert ast.unparse(keywords["entry_points"]) == "{'console_scripts': CONSOLE_SCRIPTS}"
    assert ast.unparse(keywords["data_files"]) == "data_files()"
    scripts = {entry.split("=")[0].strip(): entry.split("=")[1].strip() for entry in setup.console_scripts}
    assert "depth_prior_node" in scripts
    for target in scripts.values():
        module, function = target.split(":")
        path = PACKAGE_ROOT.joinpath(*module.split(".")).with_suffix(".py")
        assert path.is_file(), f"console script module {module} not found"
        tree = ast.parse(path.read_text())
        functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert function in functions, f"{module} has no top-level function {function}()"


def test_python_package_has_init() -> None:
    assert (PACKAGE_ROOT / PACKAGE / "__init__.py").is_file()
