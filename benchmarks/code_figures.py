"""Figures of the code base, for a tree now and a tree before a refactor: size, duplication, layering, config.

Usage: python benchmarks/code_figures.py [TREE ...]   (default: this checkout)

For each tree (a checkout of this repository) it prints: lines of Python in ``stereo_nerf_core`` and in the
ROS package; the pairs of duplicated blocks that the ``duplicates`` tool lists in ``stereo_nerf_core`` (when it
is installed); the modules importing a higher layer (by today's layer table,
``stereo_nerf_core.layers``); the largest class; the parameters each node declares and the parameters each
YAML of ``config/`` holds; and how many parameters set a depth range. The node counts run in a subprocess
with the tree's own packages on the path (no rclpy needed).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stereo_nerf_core.layers import upward_imports  # noqa: E402

ROS_PACKAGE = Path("ros2_ws/src/stereo_nerf_ros")
NODE_COUNTS = """
import json
from stereo_nerf_ros.node_specs import SPECS
from stereo_nerf_ros.parameters import default_parameters
print(json.dumps({name: len(default_parameters(getattr(spec, "parameters", None) or spec.parameter_groups))
                  for name, spec in SPECS.items()}))
"""


def python_lines(folder: Path) -> int:
    """Non-blank lines of the ``.py`` files below ``folder``."""
    return sum(1 for path in folder.rglob("*.py") for line in path.read_text().splitlines() if line.strip())


def largest_class(folder: Path) -> tuple[int, str]:
    """(lines, ``file:Class``) of the longest class below ``folder``."""
    sizes = [
        (node.end_lineno - node.lineno + 1, f"{path.relative_to(folder.parent)}:{node.name}")
        for path in folder.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None
    ]
    return max(sizes)


def duplicate_pairs(folder: Path) -> str:
    """The ``duplicates`` tool's count line for ``folder`` (its pairs of places sharing six or more lines)."""
    if shutil.which("duplicates") is None:
        return "duplicates: tool not installed"
    out = subprocess.run(
        ["duplicates", "--repo", str(folder), "--seconds", "120"], capture_output=True, text=True, check=False
    ).stdout
    return out.splitlines()[0] if out else "duplicates: no output"


def yaml_parameters(path: Path) -> tuple[int, int]:
    """(parameters, depth-range parameters: ``*min_depth_m`` / ``*max_depth_m``) of a config YAML."""
    document = yaml.safe_load(path.read_text()) or {}
    sections = [body.get("ros__parameters") or {} for body in document.values() if isinstance(body, dict)]
    if not any(isinstance(body, dict) and "ros__parameters" in body for body in document.values()):
        sections = [{key: value for key, value in document.items() if isinstance(value, dict)}]
    names = [f"{group}.{key}" for section in sections for group, values in section.items() for key in values]
    return len(names), sum(1 for name in names if re.search(r"\.(min|max)_depth_m$", name))


def node_parameters(tree: Path) -> dict[str, int] | str:
    """Parameters each node of the tree declares (its own ``node_specs`` and ``parameters`` modules)."""
    path = f"{tree}:{tree / ROS_PACKAGE}"
    done = subprocess.run(
        [sys.executable, "-c", NODE_COUNTS], capture_output=True, text=True, env={"PYTHONPATH": path}, check=False
    )
    return json.loads(done.stdout) if done.returncode == 0 else f"error: {done.stderr.strip().splitlines()[-1]}"


def report(tree: Path) -> None:
    library = tree / "stereo_nerf_core"
    upward = upward_imports(library)
    lines, name = largest_class(library)
    print(f"== {tree}")
    print(f"lines of Python: stereo_nerf_core {python_lines(library)}, ROS package {python_lines(tree / ROS_PACKAGE)}")
    print(f"duplicated blocks in stereo_nerf_core: {duplicate_pairs(library)}")
    print(f"modules importing upward: {len({entry.split(' imports ')[0] for entry in upward})} ({len(upward)} imports)")
    print(f"largest class: {name}, {lines} lines")
    print(f"parameters declared per node: {node_parameters(tree)}")
    for path in sorted((tree / "config").glob("*.yaml")):
        count, depth = yaml_parameters(path)
        print(f"parameters in config/{path.name}: {count} ({depth} set a depth range)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path, default=[REPO], help="checkouts of this repository")
    for tree in parser.parse_args(argv).trees:
        report(tree.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
