"""Bad input is named: missing folders, count and size mismatches, unreadable images, formats, options, bags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stereo_nerf_core.cli import main
from stereo_nerf_core.importers.calibration import RectifiedPair
from stereo_nerf_core.importers.cli import run_import
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.studies import load_studies
from stereo_nerf_core.importers.writer import ImportOptions, write_recording
from stereo_nerf_core.io.bag import bag_topics
from tests.importers.helpers import FX, HEIGHT, WIDTH, texture, write_rgb, write_study

QUIET = ImportOptions(progress=False)
RECTIFIED = RectifiedPair(fx=FX, baseline_m=0.005)
RECTIFIED_ARGS: dict[str, Any] = {"rectified": True, "fx": FX, "baseline_m": 0.005}


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return write_study(tmp_path / "exp", frames=3, depth=False, masks=False)


def test_missing_folders_are_named(tmp_path: Path, study: Path) -> None:
    with pytest.raises(ImporterError, match=r"nowhere: no such folder \(expected a study folder"):
        load_studies(tmp_path / "nowhere", rectified=RECTIFIED)
    for image in (study / "r" / "images").iterdir():
        image.unlink()
    (study / "r" / "images").rmdir()
    with pytest.raises(ImporterError, match=r"exp/r/images: no such folder \(expected the right images of the study\)"):
        load_studies(study, rectified=RECTIFIED)


def test_mismatched_image_counts_name_both(study: Path) -> None:
    (study / "r" / "images" / "000002.png").unlink()
    with pytest.raises(ImporterError, match="3 left images in l/images but 2 right images in r/images"):
        load_studies(study, rectified=RECTIFIED)


def test_unreadable_image_is_named_and_leaves_no_bag(tmp_path: Path, study: Path) -> None:
    (study / "r" / "images" / "000002.png").write_bytes(b"not a png")
    bag = tmp_path / "bag"
    with pytest.raises(ImporterError, match=r"r/images/000002\.png: not a readable image"):
        write_recording(load_studies(study, rectified=RECTIFIED), bag, QUIET)
    assert not bag.exists()  # the half-written bag is removed


def test_size_mismatch_with_the_calibration_is_named(tmp_path: Path, study: Path) -> None:
    write_rgb(study / "r" / "images" / "000001.png", texture(WIDTH // 2, HEIGHT // 2, seed=0))
    with pytest.raises(ImporterError, match=r"r/images/000001\.png: image is 80x64 but the calibration is 160x128"):
        write_recording(load_studies(study, rectified=RECTIFIED), tmp_path / "bag", QUIET)
    calibration = tmp_path / "calib.yaml"
    calibration.write_text(
        "%YAML:1.0\n---\nimage_size: !!opencv-matrix\n   rows: 2\n   cols: 1\n   dt: d\n   data: [ 256., 320. ]\n"
        + "".join(
            f"{name}: !!opencv-matrix\n   rows: {rows}\n   cols: {cols}\n   dt: d\n   data: [ {values} ]\n"
            for name, rows, cols, values in (
                ("K1", 3, 3, "100., 0., 80., 0., 100., 64., 0., 0., 1."),
                ("D1", 1, 5, "0., 0., 0., 0., 0."),
                ("K2", 3, 3, "100., 0., 80., 0., 100., 64., 0., 0., 1."),
                ("D2", 1, 5, "0., 0., 0., 0., 0."),
                ("R", 3, 3, "1., 0., 0., 0., 1., 0., 0., 0., 1."),
                ("T", 3, 1, "-4.1, 0., 0."),
            )
        )
    )
    with pytest.raises(
        ImporterError, match=r"l/images/000000\.png: image is 160x128 but the calibration .* is for 320x256"
    ):
        load_studies(study, calibration_file=calibration)


def test_unknown_format_and_foreign_options_are_refused(tmp_path: Path, study: Path) -> None:
    with pytest.raises(ImporterError, match="unknown import format 'kitti': use one of dtu, endonerf, scared, studies"):
        run_import("kitti", study, tmp_path / "bag", QUIET)
    with pytest.raises(ImporterError, match=r"--fx do\(es\) not apply to format 'scared'"):
        run_import("scared", study, tmp_path / "bag", QUIET, fx=100.0)
    with pytest.raises(ImporterError, match="either as --calibration FILE or, for an already-rectified pair"):
        run_import("studies", study, tmp_path / "bag", QUIET)
    with pytest.raises(ImporterError, match="--rectified needs --fx PX and --baseline-m M"):
        run_import("studies", study, tmp_path / "bag", QUIET, rectified=True, fx=100.0)
    assert not (tmp_path / "bag").exists()


def test_existing_bags_are_never_overwritten(tmp_path: Path, study: Path) -> None:
    bag = tmp_path / "bag"
    run_import("studies", study, bag, QUIET, **RECTIFIED_ARGS)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in bag.iterdir())
    with pytest.raises(ImporterError, match="bag exists already; bags are never overwritten"):
        run_import("studies", study, bag, QUIET, **RECTIFIED_ARGS)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in bag.iterdir()) == before
    assert bag_topics(bag)["/stereo/left/image_raw"].count == 3


def test_cli_reports_errors_in_one_line_with_status_2(
    tmp_path: Path, study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "endonerf", str(study), str(tmp_path / "bag"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("stereo-nerf import: error: ") and "images: no such folder" in error
    assert main(["import", "nerf", str(study), str(tmp_path / "bag")]) == 2
    assert "unknown import format 'nerf'" in capsys.readouterr().err
    args = [
        "import",
        "studies",
        str(study),
        str(tmp_path / "ok"),
        "--rectified",
        "--fx",
        "100",
        "--baseline-m",
        "0.005",
    ]
    assert main([*args, "--fps", "25", "--storage", "sqlite3", "--quiet"]) == 0
    assert "import studies done: 3 frames 160x128 at 25 Hz" in capsys.readouterr().out
    assert np.all(np.asarray([item.count for item in bag_topics(tmp_path / "ok").values()]) >= 1)
