"""Specular highlight and tissue masks on synthetic images with known highlights."""

from __future__ import annotations

import numpy as np
import pytest

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.specular import specular_mask, tissue_region


def _image() -> np.ndarray:
    """20 x 20 reddish tissue with a 3 x 3 white highlight at rows/cols 8..10 and two distractors."""
    image = np.empty((20, 20, 3), dtype=np.uint8)
    image[:] = (180, 60, 50)  # tissue: V = 0.71, S = 0.72
    image[8:11, 8:11] = (250, 245, 240)  # highlight: V = 0.98, S = 10 / 250 = 0.04
    image[2, 2] = (255, 20, 20)  # bright but saturated red: V = 1.0, S = 0.92
    image[15, 15] = (100, 100, 100)  # unsaturated but dark grey: V = 0.39
    image[17, 3] = (240, 190, 180)  # brightly lit pink tissue: V = 0.94, S = 60 / 240 = 0.25 (kept)
    image[17, 6] = (240, 185, 175)  # slightly more saturated: S = 65 / 240 = 0.27 (not specular)
    return image


def test_specular_mask_finds_exactly_the_highlight() -> None:
    mask = specular_mask(_image(), dilate_px=0)
    expected = np.zeros((20, 20), dtype=bool)
    expected[8:11, 8:11] = True
    expected[17, 3] = True  # S = 0.25 is on the (inclusive) threshold
    np.testing.assert_array_equal(mask, expected)
    assert mask.dtype == np.bool_


def test_specular_mask_dilation_is_a_disc() -> None:
    image = _image()
    image[17, 3] = (180, 60, 50)
    mask = specular_mask(image, dilate_px=2)
    # Pixels within 2 px of the 3 x 3 block (rows/cols 8..10): rows 6 and 12 get cols 8..10 (3 each),
    # rows 7 and 11 cols 7..11 (5 each), rows 8..10 cols 6..12 (7 each): 3 + 5 + 21 + 5 + 3 = 37.
    assert int(mask.sum()) == 37
    assert mask[6, 9] and mask[9, 6] and mask[7, 7] and mask[12, 10]
    assert not mask[6, 7] and not mask[7, 6] and not mask[2, 2] and not mask[15, 15]


def test_specular_mask_thresholds() -> None:
    image = _image()
    strict = specular_mask(image, max_saturation=0.1, dilate_px=0)
    assert int(strict.sum()) == 9
    loose = specular_mask(image, min_value=0.3, max_saturation=0.3, dilate_px=0)
    assert loose[15, 15] and loose[17, 6] and not loose[2, 2]
    # channel order does not matter
    np.testing.assert_array_equal(specular_mask(image[..., ::-1]), specular_mask(image))


def test_tissue_region() -> None:
    image = _image()
    image[17, 3] = (180, 60, 50)
    instrument = np.zeros((20, 20), dtype=bool)
    instrument[:, :4] = True
    depth_valid = np.ones((20, 20), dtype=bool)
    depth_valid[19, 19] = False
    region = tissue_region(image, instrument_mask=instrument, depth_valid=depth_valid)
    specular = specular_mask(image)
    np.testing.assert_array_equal(region, ~specular & ~instrument & depth_valid)
    assert int(region.sum()) == 400 - 37 - 80 - 1
    np.testing.assert_array_equal(tissue_region(image), ~specular)


def test_specular_errors() -> None:
    with pytest.raises(EvaluationError, match=r"uint8 \(H, W, 3\)"):
        specular_mask(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(EvaluationError, match=r"uint8 \(H, W, 3\)"):
        specular_mask(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(EvaluationError, match="dilate_px"):
        specular_mask(np.zeros((4, 4, 3), dtype=np.uint8), dilate_px=-1)
    with pytest.raises(EvaluationError, match="min_value"):
        specular_mask(np.zeros((4, 4, 3), dtype=np.uint8), min_value=1.5)
    with pytest.raises(EvaluationError, match="instrument_mask"):
        tissue_region(np.zeros((4, 4, 3), dtype=np.uint8), instrument_mask=np.zeros((3, 4), dtype=bool))
