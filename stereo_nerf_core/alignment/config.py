"""``AlignmentConfig``: every option of silhouette alignment, with its default and unit."""

from __future__ import annotations

from dataclasses import dataclass

from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.renderer import Rasterizer


@dataclass(frozen=True)
class AlignmentConfig:
    """Options of :func:`~stereo_nerf_core.alignment.align.align_silhouette` (defaults suit 128 px masks)."""

    max_triangles: int = 800
    """Meshes with more triangles are decimated to this many (open3d quadric decimation)."""
    triangle_limit: int = 3000
    """Meshes still above this many triangles after decimation are refused (AlignmentError)."""
    crop_margin: float | None = 1.0
    """Masks are first cropped to a square of side ``(1 + 2 * crop_margin)`` times the mask box's longer side."""
    max_resolution: int = 256
    """The (cropped) masks are area-downsampled so their longer side is at most this many pixels."""
    iterations: int = 200
    """Adam iterations per refined start pose."""
    lr_rotation: float = 0.03
    """Initial Adam step size of the axis-angle rotation correction, in radians."""
    lr_translation: float = 0.01
    """Initial Adam step size of the object centre's normalised image position ``(x/z, y/z)`` and ``log z``."""
    lr_final_ratio: float = 0.05
    """Cosine decay of both step sizes down to this fraction at the last iteration."""
    sigma_start_px: float = 6.0
    """Edge softness at the first iteration, in working-resolution pixels (wide basin)."""
    sigma_end_px: float = 0.5
    """Edge softness reached after ``anneal_fraction`` of the iterations (precise fit), in pixels."""
    anneal_fraction: float = 0.5
    """Fraction of the iterations over which the softness decays geometrically from start to end."""
    coarse_sigma_px: float = 1.5
    """While the softness is at least twice this, the masks are rendered at half resolution (softness halved)."""
    margin: float = 6.0
    """Soft edges are evaluated up to ``margin * sigma`` pixels from the outline (beyond: the exact 0/1 mask)."""
    l2_weight: float = 0.0
    """Weight of the mean squared difference between soft silhouette and mask, added to ``1 - soft IoU``."""
    rasterizer: Rasterizer = "contour"
    """Soft silhouette model: ``contour`` (signed distance to the outline) or ``softras`` (biased, for study)."""
    global_search: bool = True
    """Search rotations and distances for start poses before refining; False refines the initial pose only."""
    search_directions: int = 100
    """Viewing directions of the rotation grid (Fibonacci sphere; spacing about 20 degrees for 100)."""
    search_rolls: int = 12
    """Rotations about the optical axis per viewing direction (30 degrees apart for 12)."""
    search_distance_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    """Multiples of each rotation's distance estimate (from the mask area) that are scored."""
    search_resolution: int = 40
    """Longer side in pixels of the masks scored by hard IoU during the search."""
    top_k: int = 3
    """Best search candidates refined by gradient (at least ``min_separation_deg`` apart in rotation)."""
    min_separation_deg: float = 25.0
    """Smallest rotation between two kept search candidates, in degrees."""
    gif_every: int = 5
    """Record a GIF frame every this many iterations (0: no frames)."""
    num_threads: int | None = None
    """torch CPU threads during the alignment (restored afterwards); None keeps torch's setting."""

    def __post_init__(self) -> None:
        positive = [
            "max_triangles", "triangle_limit", "max_resolution", "iterations", "lr_rotation", "lr_translation",
            "sigma_start_px", "sigma_end_px", "coarse_sigma_px", "margin", "search_directions", "search_rolls",
            "search_resolution", "top_k",
        ]  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise AlignmentError(f"AlignmentConfig.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 < self.lr_final_ratio <= 1.0 or not 0.0 <= self.anneal_fraction <= 1.0:
            raise AlignmentError(
                f"AlignmentConfig.lr_final_ratio must be in (0, 1] and anneal_fraction in [0, 1], got "
                f"{self.lr_final_ratio}, {self.anneal_fraction}"
            )
        if self.l2_weight < 0 or self.gif_every < 0 or self.min_separation_deg < 0:
            raise AlignmentError("AlignmentConfig.l2_weight, gif_every and min_separation_deg must be >= 0")
        if not self.search_distance_factors or min(self.search_distance_factors) <= 0:
            raise AlignmentError(
                f"AlignmentConfig.search_distance_factors must be non-empty and > 0, got {self.search_distance_factors}"
            )
        if self.rasterizer not in ("contour", "softras"):
            raise AlignmentError(f"AlignmentConfig.rasterizer must be 'contour' or 'softras', got {self.rasterizer!r}")
        if self.crop_margin is not None and self.crop_margin < 0:
            raise AlignmentError(f"AlignmentConfig.crop_margin must be None or >= 0, got {self.crop_margin}")
        if self.num_threads is not None and self.num_threads < 1:
            raise AlignmentError(f"AlignmentConfig.num_threads must be None or >= 1, got {self.num_threads}")
