"""PSNR on images with a known mean squared error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.image_metrics import psnr


def test_psnr_of_a_known_mse() -> None:
    gt = np.zeros((4, 5, 3))
    pred = np.full((4, 5, 3), 0.1)
    # MSE = 0.1^2 = 0.01 -> PSNR = 10 log10(1 / 0.01) = 20 dB
    assert psnr(pred, gt) == pytest.approx(20.0)
    # max_value 255 on the same relative error: 10 log10(255^2 / 25.5^2) = 20 dB
    assert psnr(pred * 255.0, gt, max_value=255.0) == pytest.approx(20.0)


def test_psnr_with_mask() -> None:
    gt = np.zeros((1, 2, 3))
    pred = gt.copy()
    pred[0, 1] = 0.1
    # Both pixels: MSE = (0 + 0.01) / 2 = 0.005 -> 10 log10(200) = 23.0103 dB
    assert psnr(pred, gt) == pytest.approx(10.0 * math.log10(200.0))
    assert psnr(pred, gt, mask=np.array([[True, True]])) == pytest.approx(23.0103, abs=1e-4)
    assert psnr(pred, gt, mask=np.array([[False, True]])) == pytest.approx(20.0)
    assert psnr(pred, gt, mask=np.array([[True, False]])) == math.inf
    assert math.isnan(psnr(pred, gt, mask=np.zeros((1, 2), dtype=bool)))


def test_psnr_errors() -> None:
    with pytest.raises(EvaluationError, match=r"\(4, 4, 3\) and \(4, 4\)"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 4)))
    with pytest.raises(EvaluationError, match="mask"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), mask=np.ones((3, 4), dtype=bool))
    with pytest.raises(EvaluationError, match="max_value"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), max_value=0.0)
