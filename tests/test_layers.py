"""The library's layers: no module imports a package above its own, and no private name crosses a module."""

from __future__ import annotations

from pathlib import Path

from stereo_nerf_core.layers import RANK, imports, top_level, upward_imports

PACKAGE = Path(__file__).resolve().parents[1] / "stereo_nerf_core"


def test_every_package_has_a_layer() -> None:
    tops = {top_level(path, PACKAGE) for path in PACKAGE.rglob("*.py")}
    assert tops <= set(RANK), f"packages without a layer: {sorted(tops - set(RANK))}"


def test_no_module_imports_upward() -> None:
    upward = upward_imports(PACKAGE)
    assert not upward, "\n".join(upward)


def test_an_upward_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "stereo_nerf_core"
    (package / "geometry").mkdir(parents=True)
    (package / "geometry" / "bad.py").write_text("from stereo_nerf_core.training.trainer import Trainer\n")
    (package / "training").mkdir()
    (package / "training" / "fine.py").write_text("import stereo_nerf_core.geometry.camera\n")
    assert upward_imports(package) == ["stereo_nerf_core/geometry/bad.py imports stereo_nerf_core.training.trainer"]


def test_private_names_stay_in_their_module() -> None:
    crossing = [
        f"{path.relative_to(PACKAGE.parent)} imports {name} from {module}"
        for path in PACKAGE.rglob("*.py")
        for module, names in imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not crossing, "\n".join(crossing)
