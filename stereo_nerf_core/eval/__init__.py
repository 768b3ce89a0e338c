"""Evaluation: depth, surface and image metrics, specular/tissue masks, figures and markdown reports.

``stereo_nerf_core.eval.figures`` (matplotlib) is not imported here, to keep this package light;
import it explicitly.
"""

from stereo_nerf_core.eval.depth_metrics import (
    DEPTH_METRIC_NAMES,
    DepthErrorAccumulator,
    DepthMetrics,
    aggregate_depth_metrics,
    depth_error_map,
    depth_metrics,
)
from stereo_nerf_core.eval.errors import EvaluationError
from stereo_nerf_core.eval.image_metrics import psnr
from stereo_nerf_core.eval.report import protocol_notes, write_report
from stereo_nerf_core.eval.specular import specular_mask, tissue_region
from stereo_nerf_core.eval.surface_metrics import SurfaceMetrics, surface_distances, surface_metrics

__all__ = [
    "DEPTH_METRIC_NAMES",
    "DepthErrorAccumulator",
    "DepthMetrics",
    "EvaluationError",
    "SurfaceMetrics",
    "aggregate_depth_metrics",
    "depth_error_map",
    "depth_metrics",
    "protocol_notes",
    "psnr",
    "specular_mask",
    "surface_distances",
    "surface_metrics",
    "tissue_region",
    "write_report",
]
