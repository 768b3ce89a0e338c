"""The library's layers: no module imports a package above its own, and no private name crosses a module."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "stereo_nerf_core"
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "errors",
        "config_checks",
        "frontend_config",
        "offline_config",
        "nodes_config",
        "learning_config",
        "config",
        "config_docs",
        "devices",
        "geometry",
    ),
    ("io", "fields", "alignment"),
    ("frontend", "fusion", "render", "datasets", "importers", "synthetic"),
    ("spine", "eval", "models"),
    ("training",),
    ("pipeline",),
    ("cli", "__main__", "__init__"),
)
"""Lowest first: the frame source and pose provider (spine) sit on the front-end; training and the pipeline on it."""
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(imported stereo_nerf_core module, imported names) of every import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stereo_nerf_core."):
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("stereo_nerf_core."):
                    yield alias.name, []


def _top(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def test_every_package_has_a_layer() -> None:
    tops = {_top(path) for path in PACKAGE.rglob("*.py")}
    assert tops <= set(RANK), f"packages without a layer: {sorted(tops - set(RANK))}"


def test_no_module_imports_upward() -> None:
    upward = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in PACKAGE.rglob("*.py")
        for module, _ in _imports(path)
        if RANK[module.split(".")[1]] > RANK[_top(path)]
    ]
    assert not upward, "\n".join(upward)


def test_private_names_stay_in_their_module() -> None:
    crossing = [
        f"{path.relative_to(PACKAGE.parent)} imports {name} from {module}"
        for path in PACKAGE.rglob("*.py")
        for module, names in _imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not crossing, "\n".join(crossing)
