"""What training steps, training runs and renders hand back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class StepStats:
    """Weighted loss terms of one step, their sum, the batch PSNR (dB, tissue rays) and the step's cost."""

    step: int
    loss: float
    terms: dict[str, float]
    """Each weighted term by name: the objective's (photometric, depth, ssim, ...) and the model's own."""
    psnr: float
    rays: int
    seconds: float


@dataclass(frozen=True)
class TrainSummary:
    """What one :meth:`Trainer.train` call did; ``refined_pixels`` counts prior pixels refined meanwhile."""

    steps: int
    seconds: float
    rays_per_second: float
    last: StepStats | None
    refined_pixels: int


@dataclass(frozen=True)
class RenderedView:
    """A rendered image: depth Z (H, W) in metres (0 where transparent), colour (H, W, 3) in [0, 1], opacity."""

    depth: NDArray[np.float32]
    rgb: NDArray[np.float32]
    opacity: NDArray[np.float32]
