"""``align_silhouette``: object pose from observed masks, by global search then gradient refinement."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from stereo_nerf_core.alignment.config import AlignmentConfig
from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.hard_raster import mask_iou
from stereo_nerf_core.alignment.mesh import Mesh, decimate, projected_extent
from stereo_nerf_core.alignment.pose import check_rigid
from stereo_nerf_core.alignment.refine import Refinement, refine_pose
from stereo_nerf_core.alignment.renderer import SilhouetteRenderer
from stereo_nerf_core.alignment.search import global_search
from stereo_nerf_core.alignment.views import AlignmentView, ScaledView, crop_to_mask, scale_view

Float = NDArray[np.float64]


@dataclass
class AlignmentResult:
    """The estimated pose and how well it explains the masks."""

    T_camera_object: Float
    """(4, 4) pose of the object in the reference (first) view's camera frame."""
    iou: list[float]
    """Hard IoU per view at the masks' own resolution."""
    start_T_camera_object: Float
    """(4, 4) start pose of the returned refinement (search candidate or initial pose)."""
    start_iou: list[float]
    """Hard IoU per view of the start pose, at the masks' resolution."""
    iterations: int
    """Adam iterations of the returned refinement."""
    refined_starts: int
    """Start poses refined (the best result is returned)."""
    search_candidates: int
    """Poses scored by the global search (0 without it)."""
    seconds: float
    """Wall time of the whole alignment."""
    view_names: list[str]
    """Names of the views, in order."""
    targets: list[NDArray[np.float32]] = field(default_factory=list)
    """Working-resolution masks (H, W) in [0, 1] per view (for the figures)."""
    start_masks: list[NDArray[np.bool_]] = field(default_factory=list)
    """Working-resolution silhouettes of the start pose per view."""
    final_masks: list[NDArray[np.bool_]] = field(default_factory=list)
    """Working-resolution silhouettes of the result per view."""
    frames: list[tuple[int, float, list[NDArray[np.float16]]]] = field(default_factory=list)
    """Recorded ``(iteration, loss, soft silhouettes per view)`` of the returned refinement."""

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary: pose, IoUs, iterations, time."""
        return {
            "T_camera_object": self.T_camera_object.tolist(),
            "iou": dict(zip(self.view_names, self.iou, strict=True)),
            "start_iou": dict(zip(self.view_names, self.start_iou, strict=True)),
            "start_T_camera_object": self.start_T_camera_object.tolist(),
            "iterations": self.iterations,
            "refined_starts": self.refined_starts,
            "search_candidates": self.search_candidates,
            "seconds": round(self.seconds, 3),
        }


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads (None: unchanged), restoring the setting after."""
    if count is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _view_masks(renderer: SilhouetteRenderer, views: Sequence[AlignmentView | ScaledView], T: Float) -> list[NDArray]:
    """Exact silhouettes (H, W) per view of the reference-camera pose ``T``, at each view's resolution."""
    return [renderer.hard(view.T_view_ref @ T, view.K, view.width, view.height) for view in views]


def _ious(rendered: Sequence[NDArray], observed: Sequence[NDArray]) -> list[float]:
    return [float(mask_iou(r[None], o)[0]) for r, o in zip(rendered, observed, strict=True)]


def _check_visible(renderer: SilhouetteRenderer, views: Sequence[AlignmentView], T: Float) -> None:
    for view, silhouette in zip(views, _view_masks(renderer, views, T), strict=True):
        if not silhouette.any():
            extent = projected_extent(renderer.mesh, view.T_view_ref @ T, view.K, view.width, view.height)
            raise AlignmentError(
                f"mesh outside the view: the initial pose's silhouette in {view.name} is empty ({extent})"
            )


def align_silhouette(
    mesh: Mesh,
    views: Sequence[AlignmentView],
    *,
    config: AlignmentConfig | None = None,
    T_init: NDArray[np.floating] | None = None,
    device: torch.device | str | None = None,
) -> AlignmentResult:
    """Estimate ``T_camera_object`` of ``views[0]`` so the mesh's silhouettes match all views' masks.

    With ``config.global_search`` the best search candidates (plus ``T_init`` if given) are refined and
    the refinement with the highest mean IoU is returned; without it ``T_init`` (required) is refined.
    ``device`` defaults to the CPU (the ray-cast parts always run there).
    """
    config = config or AlignmentConfig()
    if not views:
        raise AlignmentError("align_silhouette needs at least one view")
    if not np.allclose(views[0].T_ref_view, np.eye(4), atol=1e-9):
        raise AlignmentError(f"the first view ({views[0].name}) is the reference: its T_ref_view must be the identity")
    started = time.perf_counter()
    with torch_threads(config.num_threads):
        mesh = decimate(mesh, max_triangles=config.max_triangles, triangle_limit=config.triangle_limit)
        renderer = SilhouetteRenderer(mesh, device=device or "cpu")
        margin = config.crop_margin
        observed = [view if margin is None else crop_to_mask(view, margin) for view in views]
        working = [scale_view(view, config.max_resolution) for view in observed]
        starts: list[Float] = []
        if T_init is not None:
            init = check_rigid(T_init, "initial pose")
            _check_visible(renderer, views, init)
            starts.append(init)
        scored = 0
        if config.global_search:
            coarse = [scale_view(view, config.search_resolution) for view in observed]
            search = global_search(renderer, coarse, config=config)
            scored = search.scored
            starts.extend(candidate.T_camera_object for candidate in search.candidates)
        elif T_init is None:
            raise AlignmentError("without the global search an initial pose (T_init / --init-pose) is needed")
        best: tuple[float, Refinement, Float] | None = None
        for start in starts:
            refined = refine_pose(renderer, working, start, config=config)
            ious = _ious(_view_masks(renderer, working, refined.T_camera_object), [v.target > 0.5 for v in working])
            if best is None or float(np.mean(ious)) > best[0]:
                best = (float(np.mean(ious)), refined, start)
        assert best is not None
        _, refined, start = best
        final = _view_masks(renderer, views, refined.T_camera_object)
        for view, silhouette in zip(views, final, strict=True):
            if not np.logical_and(silhouette, view.mask).any():
                extent = projected_extent(
                    mesh, view.T_view_ref @ refined.T_camera_object, view.K, view.width, view.height
                )
                raise AlignmentError(
                    f"mesh outside the view: the aligned silhouette in {view.name} does not overlap its mask "
                    f"({extent}); check the relative pose and the intrinsics"
                )
        return AlignmentResult(
            T_camera_object=refined.T_camera_object,
            iou=_ious(final, [view.mask for view in views]),
            start_T_camera_object=start,
            start_iou=_ious(_view_masks(renderer, views, start), [view.mask for view in views]),
            iterations=refined.iterations,
            refined_starts=len(starts),
            search_candidates=scored,
            seconds=time.perf_counter() - started,
            view_names=[view.name for view in views],
            targets=[view.target for view in working],
            start_masks=_view_masks(renderer, working, start),
            final_masks=_view_masks(renderer, working, refined.T_camera_object),
            frames=refined.frames,
        )
