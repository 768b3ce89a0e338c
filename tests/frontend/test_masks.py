"""Front-end pixel masks: specular highlights, background, instruments, depth range, reason bits."""

from __future__ import annotations

import numpy as np
import pytest

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.specular import specular_mask as eval_specular_mask
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.hole_filling import image_content
from stereo_nerf_core.frontend.masks import (
    Reason,
    background_mask,
    instrument_mask,
    out_of_range_mask,
    reason_names,
    specular_mask,
)


def _tissue(shape: tuple[int, int] = (40, 60)) -> np.ndarray:
    image = np.zeros((*shape, 3), np.uint8)
    image[...] = (200, 90, 80)  # pink: saturation 0.6
    return image


def test_a_synthetic_specular_blob_is_found_with_its_halo() -> None:
    image = _tissue()
    yy, xx = np.mgrid[0:40, 0:60]
    blob = (yy - 20) ** 2 + (xx - 30) ** 2 <= 16  # radius 4 px, white
    image[blob] = (250, 248, 245)
    exact = specular_mask(image, dilate_px=0)
    np.testing.assert_array_equal(exact, blob)
    halo = specular_mask(image, dilate_px=2)
    assert halo.sum() > blob.sum() and halo[20, 36] and not halo[20, 37]  # radius 4 + 2
    bright_tissue = _tissue()
    bright_tissue[...] = (255, 150, 140)  # brightly lit but saturated: not specular
    assert not specular_mask(bright_tissue).any()
    # the evaluation layer reuses the same detector
    np.testing.assert_array_equal(eval_specular_mask(image), halo)


def test_specular_mask_rejects_bad_input_with_both_error_types() -> None:
    with pytest.raises(FrontendError, match=r"uint8 \(H, W, 3\)"):
        specular_mask(np.zeros((4, 4), np.uint8))
    with pytest.raises(FrontendError, match="min_value"):
        specular_mask(_tissue(), min_value=1.5)
    with pytest.raises(EvaluationError, match="dilate_px"):
        eval_specular_mask(_tissue(), dilate_px=-1)


def test_background_is_the_black_border_and_very_dark_pixels() -> None:
    image = _tissue()
    image[:, :5] = 0  # rectification border (touches the edge)
    image[20, 30] = 0  # an isolated black pixel inside stays content
    image[30:34, 40:44] = 4  # too dark to match
    content = image_content(image)
    assert not content[:, :5].any() and content[20, 30] and content[:, 5:].all()
    background = background_mask(image)
    assert background[:, :5].all() and background[31, 41] and not background[10, 20]
    assert not background[20, 30]  # the 3x3 median ignores a single dark pixel
    with pytest.raises(FrontendError, match="uint8"):
        background_mask(image.astype(np.float32))


def test_instrument_mask_and_depth_range() -> None:
    assert not instrument_mask(None, (4, 5)).any()
    given = np.zeros((4, 5), np.uint8)
    given[1, 2] = 255
    assert instrument_mask(given, (4, 5)).sum() == 1
    with pytest.raises(FrontendError, match=r"instrument mask is \(4, 5\), expected the rectified image's"):
        instrument_mask(given, (8, 10))
    depth = np.array([[0.0, 0.01, 0.05, 0.5, np.nan]], np.float32)
    assert out_of_range_mask(depth, min_depth_m=0.02, max_depth_m=0.3).tolist() == [[False, True, False, True, False]]


def test_reason_bits_are_distinct_and_named() -> None:
    bits = [int(reason) for reason in Reason]
    assert len(set(bits)) == len(bits) and all(bit & (bit - 1) == 0 for bit in bits) and max(bits) < 256
    assert reason_names(int(Reason.SPECULAR | Reason.LOW_CONFIDENCE)) == ["SPECULAR", "LOW_CONFIDENCE"]
    assert reason_names(0) == []
