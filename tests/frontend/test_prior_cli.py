"""``stereo-nerf depth-prior``: outputs on a textured plane, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from stereo_nerf_core.cli import main
from tests.frontend.prior_helpers import BASELINE_M, FX, plane_pair


def _write_pair(folder: Path, *, disparity: float = 10.4, shape: tuple[int, int] = (144, 192)) -> tuple[Path, Path]:
    left, right = plane_pair(disparity, shape, rgb=True)
    paths = folder / "left.png", folder / "right.png"
    for path, image in zip(paths, (left, right), strict=True):
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return paths


def _run(*arguments: object) -> int:
    return main(["depth-prior", *map(str, arguments)])


def test_depth_prior_writes_disparity_depth_and_confidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    left, right = _write_pair(tmp_path)
    out = tmp_path / "out"
    assert _run(left, right, "--fx", FX, "--baseline-m", BASELINE_M, "--out", out) == 0
    assert "depth-prior: sgbm on 192x144" in capsys.readouterr().out
    disparity, depth = np.load(out / "disparity.npy"), np.load(out / "depth.npy")
    confidence, rejected = np.load(out / "confidence.npy"), np.load(out / "rejected.npy")
    assert disparity.dtype == depth.dtype == confidence.dtype == np.float32 and rejected.dtype == np.uint8
    assert disparity.shape == depth.shape == confidence.shape == rejected.shape == (144, 192)
    inner = np.s_[10:-10, 40:-10]
    assert np.median(disparity[inner]) == pytest.approx(10.4, abs=0.05)
    assert np.median(depth[inner]) == pytest.approx(FX * BASELINE_M / 10.4, rel=0.005)
    assert np.all((confidence >= 0) & (confidence <= 1)) and np.median(confidence[inner]) > 0.7
    assert np.all(confidence[rejected > 0] == 0)
    preview = cv2.imread(str(out / "confidence.png"), cv2.IMREAD_UNCHANGED)
    assert preview is not None
    assert preview.shape == (144, 192) and preview.dtype == np.uint8
    np.testing.assert_array_equal(preview, np.rint(confidence * 255).astype(np.uint8))


def test_depth_prior_options_reach_the_backend(tmp_path: Path) -> None:
    left, right = _write_pair(tmp_path, disparity=12.0)
    out = tmp_path / "out"
    # cx_left - cx_right = 2 px: the same images now mean disparity 10 px of depth, the offset is not depth
    arguments = ["--fx", FX, "--baseline-m", BASELINE_M, "--cx-offset", 2.0, "--no-fill", "--out", out]
    assert _run(left, right, *arguments) == 0
    depth = np.load(out / "depth.npy")
    assert np.median(depth[depth > 0]) == pytest.approx(FX * BASELINE_M / 10.0, rel=0.01)
    assert _run(left, right, "--fx", FX, "--baseline-m", BASELINE_M, "--max-depth-m", 0.05, "--out", out) == 0
    assert not np.load(out / "depth.npy").any()  # the plane lies at 55 mm


def test_help_documents_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["depth-prior", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--fx",
        "--baseline-m",
        "--cx-offset",
        "--backend",
        "--model",
        "--min-depth-m",
        "--max-depth-m",
        "--out",
    ):
        assert flag in text
    for output in ("disparity.npy", "depth.npy", "confidence.npy", "confidence.png"):
        assert output in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "left image .*missing.png: no such file"),
        ("size", r"left image .* is 192x144 but right image .* is 96x72"),
        ("baseline", "--baseline-m must be a positive number, got 0.0"),
        ("fx", "--fx must be a positive number, got -5.0"),
        ("unrectified", "the pair does not look rectified"),
        ("model", "depth_prior.model_path .*none.pt: no such file"),
        ("not_image", "right image .*right.txt: not an image file OpenCV can read"),
    ],
)
def test_bad_input_is_one_line_naming_it_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    left, right = _write_pair(tmp_path)
    fx, baseline = FX, BASELINE_M
    extra: list[object] = []
    if change == "missing":
        left = tmp_path / "missing.png"
    elif change == "size":
        small = cv2.resize(cv2.imread(str(right)), (96, 72))
        right = tmp_path / "small.png"
        cv2.imwrite(str(right), small)
    elif change == "baseline":
        baseline = 0.0
    elif change == "fx":
        fx = -5.0
    elif change == "unrectified":
        image = cv2.imread(str(right))
        assert image is not None
        shifted = np.roll(image, -20, axis=0)  # rows 20 px off
        cv2.imwrite(str(right), shifted)
    elif change == "model":
        extra = ["--backend", "torchscript", "--model", tmp_path / "none.pt"]
    elif change == "not_image":
        right = tmp_path / "right.txt"
        right.write_text("pixels")
    code = _run(left, right, "--fx", fx, "--baseline-m", baseline, *extra, "--out", tmp_path / "out")
    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1 and error.startswith("stereo-nerf depth-prior: error: ")
    assert re.search(message, error), error
