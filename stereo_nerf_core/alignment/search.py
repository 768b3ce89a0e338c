"""Global start for silhouette alignment: a coarse search over rotations and distances by hard mask IoU.

Rotations: a Fibonacci sphere of viewing directions times evenly spaced rolls about the optical axis.
Placement per rotation: the mesh is rendered once at a nominal distance; its silhouette area gives the
distance at which it would cover the reference mask's area (weak perspective: area ~ 1 / z^2), and its
silhouette centroid offset puts it on the mask's centroid. Each distance is scaled by
``search_distance_factors``; every candidate is scored by the mean hard IoU over all views at
``search_resolution``, and the best ``top_k`` at least ``min_separation_deg`` apart are returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.alignment.config import AlignmentConfig
from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.hard_raster import mask_iou
from stereo_nerf_core.alignment.mesh import projected_extent
from stereo_nerf_core.alignment.pose import fibonacci_directions, viewing_rotations
from stereo_nerf_core.alignment.renderer import SilhouetteRenderer
from stereo_nerf_core.alignment.views import ScaledView
from stereo_nerf_core.geometry.transforms import rotation_angle_deg

Float = NDArray[np.float64]


@dataclass(frozen=True)
class Candidate:
    """A start pose from the search."""

    T_camera_object: Float
    """(4, 4) pose of the object in the reference camera."""
    iou: float
    """Mean hard IoU over the views at the search resolution."""


@dataclass(frozen=True)
class SearchResult:
    """The kept start poses and how many poses were scored."""

    candidates: list[Candidate]
    """The best start poses, best first."""
    scored: int
    """Poses scored by hard IoU."""


def _poses(rotations: Float, centres_cam: Float, centre_obj: Float) -> Float:
    """Poses (N, 4, 4) with rotations (N, 3, 3) putting the object point ``centre_obj`` at ``centres_cam`` (N, 3)."""
    poses = np.tile(np.eye(4), (rotations.shape[0], 1, 1))
    poses[:, :3, :3] = rotations
    poses[:, :3, 3] = centres_cam - rotations @ centre_obj
    return poses


def _centroid_area(masks: NDArray) -> tuple[Float, Float]:
    """Centroids (N, 2) ``(u, v)`` and areas (N,) of masks (N, H, W) (NaN centroid when empty)."""
    height, width = masks.shape[1:]
    weights = masks.reshape(masks.shape[0], -1).astype(np.float64)
    area = weights.sum(1)
    v, u = np.divmod(np.arange(height * width, dtype=np.float64), width)
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid = np.stack([weights @ u, weights @ v], 1) / area[:, None]
    return centroid, area


def score(renderer: SilhouetteRenderer, views: Sequence[ScaledView], poses: Float) -> Float:
    """Mean hard IoU (N,) over ``views`` of reference-camera poses (N, 4, 4)."""
    total = np.zeros(poses.shape[0])
    for view in views:
        rendered = renderer.hard(view.T_view_ref @ poses, view.K, view.width, view.height)
        total += mask_iou(rendered, view.target > 0.5)
    return total / len(views)


def global_search(
    renderer: SilhouetteRenderer, views: Sequence[ScaledView], *, config: AlignmentConfig
) -> SearchResult:
    """The best ``config.top_k`` start poses, best first (``views[0]`` is the reference, at search resolution)."""
    reference = views[0]
    centroid, area = _centroid_area((reference.target > 0.5)[None])
    if area[0] == 0:
        raise AlignmentError(
            f"mask of {reference.name} is empty at the search resolution {reference.width}x{reference.height}"
        )
    mesh = renderer.mesh
    rotations = viewing_rotations(fibonacci_directions(config.search_directions), config.search_rolls)
    K_inv = np.linalg.inv(reference.K)
    focal = float(np.sqrt(reference.K[0, 0] * reference.K[1, 1]))
    nominal = max(3.0 * mesh.radius, 2.5 * focal * mesh.radius / min(reference.width, reference.height))
    principal = K_inv @ [reference.K[0, 2], reference.K[1, 2], 1.0]
    probe = renderer.hard(
        _poses(rotations, np.tile(principal * nominal, (len(rotations), 1)), mesh.centre),
        reference.K,
        reference.width,
        reference.height,
    )
    probe_centroid, probe_area = _centroid_area(probe)
    visible = probe_area > 0
    rotations, probe_centroid, probe_area = rotations[visible], probe_centroid[visible], probe_area[visible]
    offset = probe_centroid - reference.K[:2, 2]
    poses = []
    for factor in config.search_distance_factors:
        depth = nominal * np.sqrt(probe_area / area[0]) * factor
        target = centroid[0] - offset * (nominal / depth)[:, None]
        rays = np.concatenate([target, np.ones((len(target), 1))], 1) @ K_inv.T
        poses.append(_poses(rotations, rays * (depth / rays[:, 2])[:, None], mesh.centre))
    candidates = np.concatenate(poses)
    scores = score(renderer, views, candidates)
    if scores.size == 0 or scores.max() <= 0:
        example = projected_extent(mesh, candidates[0] if len(candidates) else np.eye(4), reference.K,
                                   reference.width, reference.height)  # fmt: skip
        raise AlignmentError(
            f"mesh outside the view: the global search found no pose whose silhouettes overlap the masks "
            f"({len(candidates)} candidates at {reference.width}x{reference.height} px; e.g. {example}; "
            f"check the relative poses and the mesh units (metres))"
        )
    kept: list[Candidate] = []
    for index in np.argsort(-scores, kind="stable"):
        if scores[index] <= 0 or len(kept) == config.top_k:
            break
        R = candidates[index, :3, :3]
        if all(rotation_angle_deg(R.T @ other.T_camera_object[:3, :3]) >= config.min_separation_deg for other in kept):
            kept.append(Candidate(candidates[index], float(scores[index])))
    return SearchResult(kept, len(candidates))
