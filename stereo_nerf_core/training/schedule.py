"""When the trainer does its periodic work: depth refinement rounds, occupancy measurements, learning rates."""

from __future__ import annotations

from stereo_nerf_core.config import TrainerConfig


def refinement_due(config: TrainerConfig, step: int) -> bool:
    """Whether a depth-refinement round runs before ``step`` (from ``depth_refine_start``, every
    ``depth_refine_period`` steps, ``depth_refine_rounds`` times)."""
    since, period = step - config.depth_refine_start, config.depth_refine_period
    return (
        config.depth_refine_rounds > 0
        and since >= 0
        and since % period == 0
        and since // period < config.depth_refine_rounds
    )


def occupancy_due(config: TrainerConfig, step: int) -> bool:
    """Whether the occupancy grid is measured before ``step`` (from ``occupancy_warmup_steps``, every
    ``occupancy_update_period`` steps)."""
    since = step - config.occupancy_warmup_steps
    return since >= 0 and since % config.occupancy_update_period == 0


def learning_rate_factor(config: TrainerConfig, step: int) -> float:
    """Factor on the initial learning rates at ``step``: 10x lower every ``lr_decay_steps`` (0: constant)."""
    return 0.1 ** (step / config.lr_decay_steps) if config.lr_decay_steps else 1.0
