"""The library's layers, lowest first: a module imports only its own layer and those below it.

``tests/test_layers.py`` fails on an upward import; ``benchmarks/code_figures.py`` counts them in any tree.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

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
        "layers",
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
PACKAGE = "stereo_nerf_core"


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(imported ``stereo_nerf_core`` module, imported names) of every import in the file ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{PACKAGE}."):
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{PACKAGE}."):
                    yield alias.name, []


def top_level(path: Path, package: Path) -> str:
    """The package (or top-level module) of ``package`` that the file ``path`` belongs to."""
    return path.relative_to(package).with_suffix("").parts[0]


def upward_imports(package: Path) -> list[str]:
    """``"<file> imports <module>"`` for every import of a higher layer below ``package`` (the library's folder);
    a package without a layer counts as the top one."""
    top = len(LAYERS)
    return [
        f"{path.relative_to(package.parent)} imports {module}"
        for path in sorted(package.rglob("*.py"))
        for module, _ in imports(path)
        if RANK.get(module.split(".")[1], top) > RANK.get(top_level(path, package), top)
    ]
