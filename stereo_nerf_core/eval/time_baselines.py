"""The two trivial predictors every novel-view table must beat (EndoNeRF's split is
:func:`stereo_nerf_core.importers.endonerf.endonerf_held_out`, re-exported here).

On a static camera the held-out frames are *times*: the previous training frame, or the mean of the
training frames either side, already predict them well (30.7 dB on the pulling clip). A method is worth
the margin it takes over these, on the same frames at the same resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.importers.endonerf import endonerf_held_out

__all__ = ["BASELINES", "endonerf_held_out", "neighbour_mean_prediction", "neighbours", "previous_frame_prediction"]

F32 = NDArray[np.float32]
BASELINES = ("previous training frame", "mean of neighbouring training frames")


def neighbours(index: int, training: Sequence[int]) -> tuple[int | None, int | None]:
    """The nearest training indices before and after ``index`` (None where there is none)."""
    before = [i for i in training if i < index]
    after = [i for i in training if i > index]
    return (max(before) if before else None, min(after) if after else None)


def previous_frame_prediction(index: int, frames: Sequence[F32], training: Sequence[int]) -> F32:
    """The previous training frame (the next one when ``index`` precedes every training frame)."""
    before, after = neighbours(index, training)
    chosen = before if before is not None else after
    if chosen is None:
        raise EvaluationError("no training frame to predict from")
    return frames[chosen]


def neighbour_mean_prediction(index: int, frames: Sequence[F32], training: Sequence[int]) -> F32:
    """The mean of the training frames either side (the one there is, at either end)."""
    present = [i for i in neighbours(index, training) if i is not None]
    if not present:
        raise EvaluationError("no training frame to predict from")
    return np.mean([frames[i] for i in present], axis=0).astype(np.float32)
