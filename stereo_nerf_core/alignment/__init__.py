"""Silhouette alignment: the pose of a known mesh from binary object masks in one or more views.

``align_silhouette(mesh, views)`` estimates ``T_camera_object`` (4, 4) of the first view's camera:

1. global start (``search``): a Fibonacci sphere of viewing directions x rolls about the optical axis;
   per rotation the distance comes from the mask area and the position from the mask centroid, at a
   few distance factors; candidates are scored by exact (ray-cast) mask IoU over all views at low
   resolution and the best ``top_k``, at least ``min_separation_deg`` apart, are kept;
2. refinement (``refine``) of each start (and of ``T_init``): Adam on an axis-angle rotation correction
   and the object centre's ``(x/z, y/z, log z)``, loss ``1 - soft IoU`` summed over views (view ``i``
   at ``inv(T_ref_view_i) @ T_ref_object``), softness annealed 6 -> 0.5 px;
3. the refinement with the best exact IoU is returned with the IoU per view, and frames for a GIF.

Soft silhouettes (``contour``): a sigmoid of the signed distance from each pixel centre to the
projected outline (fold edges of the mesh whose outer side is uncovered), the sign from a ray cast.
It is exact at the 0.5 level, so unbiased; a SoftRas-style probabilistic union (``softras``) is
included for comparison: it dilates the outline and drifts 4 degrees and 8 % of the distance from
the true pose (see the docs).

Conventions: OpenCV optical frames (x right, y down, z forward), metres, ``T_a_b`` maps frame ``b``
into ``a``, integer pixel coordinates are pixel centres; masks are undistorted with intrinsics ``K``.

Limits (CPU, 1 thread, ``benchmarks/silhouette_alignment.py``; details in docs/silhouette_alignment.md):
masks are cropped around the object and optimised at most ``max_resolution`` = 256 px on the longer
side (area-downsampled; larger works, cost grows); one iteration costs 2-3 ms per view at <= 128 px
and about 7 ms at 256 px for 100-1300 triangles (the contour rasteriser barely depends on the
triangle count); meshes are decimated to ``max_triangles`` = 800 and refused above
``triangle_limit`` = 3000 triangles after decimation. 200 iterations per start; one view from
scratch (search + 3 starts) takes 3-6 s, a stereo pair 5-8 s. Accuracy follows the object's size in
pixels: about 1 degree and 0.2 % of the distance at 40-50 px across from one binary mask, a few
degrees at 25 px; a second view with a different direction helps most.
"""

from stereo_nerf_core.alignment.align import AlignmentResult, align_silhouette
from stereo_nerf_core.alignment.config import AlignmentConfig
from stereo_nerf_core.alignment.contour import contour_silhouette, edge_topology, fold_edges
from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.hard_raster import HardRasterizer, mask_iou
from stereo_nerf_core.alignment.mesh import Mesh, decimate, load_mesh, projected_extent
from stereo_nerf_core.alignment.pose import check_rigid, pose_errors
from stereo_nerf_core.alignment.refine import Refinement, refine_pose, soft_iou_loss
from stereo_nerf_core.alignment.renderer import SilhouetteRenderer
from stereo_nerf_core.alignment.search import Candidate, SearchResult, global_search
from stereo_nerf_core.alignment.softras import softras_silhouette
from stereo_nerf_core.alignment.views import AlignmentView, ScaledView, crop_to_mask, scale_view

__all__ = [
    "AlignmentConfig",
    "AlignmentError",
    "AlignmentResult",
    "AlignmentView",
    "Candidate",
    "HardRasterizer",
    "Mesh",
    "Refinement",
    "ScaledView",
    "SearchResult",
    "SilhouetteRenderer",
    "align_silhouette",
    "check_rigid",
    "contour_silhouette",
    "crop_to_mask",
    "decimate",
    "edge_topology",
    "fold_edges",
    "global_search",
    "load_mesh",
    "mask_iou",
    "pose_errors",
    "projected_extent",
    "refine_pose",
    "scale_view",
    "soft_iou_loss",
    "softras_silhouette",
]
