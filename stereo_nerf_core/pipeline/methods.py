"""The methods a replay compares, as a registry: adding a method is one entry in :data:`METHODS`.

Every method sees each processed frame (:meth:`ReplayMethod.add_frame`, held-out frames included so
it can tell them apart), is told how far the stream has got (:meth:`ReplayMethod.advance`, at the
metrics-over-time checkpoints and at the end) and then renders depth, and where it can colour, at any
frame's pose on the rectified left grid (:meth:`ReplayMethod.render`); methods with a surface give a
mesh. ``replay.methods`` in the YAML picks the methods, in report order; the two baselines
(:data:`BASELINES`) are always scored, first.

* ``nearest_frame`` (baseline): held-out views are the nearest input frame as it is.
* ``neighbour_blend`` (baseline): held-out views are the mean of the input frames before and after them,
  forward-warped through their priors when the camera moved (on a static camera, the mean of the neighbours).
* ``stereo_prior`` (baseline): the front-end's dense prior; held-out views forward-warp the nearest
  input frame's colour through its prior depth.
* ``tsdf_fusion``: the priors of the input frames fused with open3d; depth and colour are its
  coloured mesh ray-cast at each pose.
* ``nerf`` / ``sdf`` / ``deformable`` / ``deformable_sdf``: the trainer with that model
  (:mod:`stereo_nerf_core.pipeline.trainer_method`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import open3d as o3d
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.eval.novel_views import ColouredMeshRaycaster, forward_warp
from stereo_nerf_core.frontend.depth_prior import DepthPrior
from stereo_nerf_core.fusion.tsdf import TsdfFusion
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.pipeline.errors import ReplayError
from stereo_nerf_core.pipeline.evaluation import EvaluatedFrame
from stereo_nerf_core.pipeline.timing import StageTimer

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class FrameInput:
    """What a method gets of one processed frame."""

    frame: EvaluatedFrame
    calibration: StereoCalibration
    right: NDArray[np.uint8] | None
    """(H, W, 3) rectified right image, RGB; None in a monocular recording."""
    prior: DepthPrior


@dataclass(frozen=True)
class Rendering:
    """A method's view of a frame: depth (H, W) Z in metres (0 or NaN = none), colour (H, W, 3) in [0, 1]."""

    depth: F32
    rgb: F32 | None
    """None when the method has no image of its own for this view (``stereo_prior`` on its input frames)."""


class ReplayMethod:
    """Base class: a method that does nothing per frame and renders nothing."""

    stages: tuple[str, ...] = ()
    """Timer stages whose seconds are this method's compute cost."""

    def __init__(self, name: str, config: PipelineConfig, timer: StageTimer) -> None:
        self.name = name
        self.config = config
        self.timer = timer
        self.frames = 0
        """Frames this method consumed (for frames per second)."""
        self.inputs: set[int] = set()
        """Indices of the frames it used as input (its "train" views)."""
        self.notes: list[str] = []
        self.memory: dict[str, float | None] = {}
        """Process peak memory when the method last caught up (see ``pipeline.timing.peak_memory``)."""
        self.mesh_file = f"{name}_mesh.ply"
        """Where its mesh goes in the output folder."""

    def add_frame(self, item: FrameInput) -> None:
        """Take one processed frame (held-out ones too: ``item.frame.held_out``)."""

    def advance(self, progress: float) -> None:
        """The stream is ``progress`` (0, 1] of the way through: do the work due by now."""

    def render(self, frame: EvaluatedFrame, K: NDArray[np.float64], size: tuple[int, int]) -> Rendering | None:
        """Depth and colour at ``frame``'s pose with intrinsics ``K`` and (width, height) ``size``; None: nothing."""
        return None

    def mesh(self) -> o3d.geometry.TriangleMesh | None:
        """The method's surface in the pipeline's world, when it has one."""
        return None

    def close(self) -> None:
        """Release what the method holds (threads, devices)."""


class _InputViewsMethod(ReplayMethod):
    """Keeps every frame's prior and the input frames (posed, not held out) that predict held-out views."""

    def __init__(self, name: str, config: PipelineConfig, timer: StageTimer) -> None:
        super().__init__(name, config, timer)
        self.priors: dict[int, F32] = {}
        self.sources: dict[int, EvaluatedFrame] = {}

    def add_frame(self, item: FrameInput) -> None:
        frame = item.frame
        self.frames += 1
        self.priors[frame.index] = item.prior.depth
        if not frame.held_out and frame.T_world_camera is not None:
            self.sources[frame.index] = frame
            self.inputs.add(frame.index)

    def nearest_input(self, frame: EvaluatedFrame) -> EvaluatedFrame | None:
        """The input frame closest in index to ``frame`` (the earlier one on a tie)."""
        if not self.sources:
            return None
        return min(self.sources.values(), key=lambda source: (abs(source.index - frame.index), source.index))


class StereoPriorMethod(_InputViewsMethod):
    """The front-end alone: each frame's own prior; held-out colour warped from the nearest input frame."""

    stages = ("rectify", "depth_prior")

    def render(self, frame: EvaluatedFrame, K: NDArray[np.float64], size: tuple[int, int]) -> Rendering | None:
        depth = self.priors.get(frame.index)
        if depth is None:
            return None
        nearest = self.nearest_input(frame)
        if not frame.held_out or frame.T_world_camera is None or nearest is None:
            return Rendering(depth, None)
        assert nearest.T_world_camera is not None
        with self.timer.stage("stereo_prior_warp"):
            rgb, _ = forward_warp(
                nearest.left, self.priors[nearest.index], K, nearest.T_world_camera, frame.T_world_camera, size
            )
        return Rendering(depth, rgb)


class NearestFrameMethod(_InputViewsMethod):
    """Baseline: a held-out frame predicted by the nearest input frame as it is (no warp), depth included.

    On a static camera this is "the previous training frame"; on a moving one, what a method gains over
    simply showing the closest recorded view. Input frames: their own prior, no image of their own.
    """

    stages = ()  # it costs nothing: no timing entry

    def render(self, frame: EvaluatedFrame, K: NDArray[np.float64], size: tuple[int, int]) -> Rendering | None:
        depth = self.priors.get(frame.index)
        if depth is None:
            return None
        nearest = self.nearest_input(frame)
        if not frame.held_out or nearest is None:
            return Rendering(depth, None)
        return Rendering(self.priors[nearest.index], nearest.left.astype(np.float32) / 255.0)


class NeighbourBlendMethod(_InputViewsMethod):
    """Baseline: a held-out frame predicted by the input frames around it (the nearest earlier and the nearest later
    one), each forward-warped into its pose through its prior depth, averaged where both land; pixels where none
    lands take the nearest one as it is. On a static camera (or without a prior) the frames are used as they are:
    "the mean of the neighbouring training frames". Depth: the nearest input frame's prior, as ``nearest_frame``.
    """

    stages = ()

    def render(self, frame: EvaluatedFrame, K: NDArray[np.float64], size: tuple[int, int]) -> Rendering | None:
        depth = self.priors.get(frame.index)
        nearest = self.nearest_input(frame)
        if depth is None or not frame.held_out or nearest is None or frame.T_world_camera is None:
            return None if depth is None else Rendering(depth, None)
        earlier = [index for index in self.sources if index < frame.index]
        later = [index for index in self.sources if index > frame.index]
        neighbours = [self.sources[max(earlier)]] if earlier else []
        neighbours += [self.sources[min(later)]] if later else []
        width, height = size
        total, weight = np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.float32)
        for source in neighbours:
            rgb, landed = self._seen_from(source, frame.T_world_camera, K, size)
            total += rgb * landed[..., None]
            weight += landed
        own = nearest.left.astype(np.float32) / 255.0
        blend = np.where(weight[..., None] > 0, total / np.maximum(weight, 1.0)[..., None], own)
        return Rendering(self.priors[nearest.index], blend.astype(np.float32))

    def _seen_from(
        self, source: EvaluatedFrame, T_world_target: NDArray[np.float64], K: NDArray[np.float64], size: tuple[int, int]
    ) -> tuple[F32, F32]:
        """``source``'s colour in the target camera and where it landed (1/0): as it is when the camera has not
        moved or the source has no prior depth, else forward-warped through its prior."""
        assert source.T_world_camera is not None
        prior = self.priors[source.index]
        image = source.left.astype(np.float32) / 255.0
        if np.allclose(source.T_world_camera, T_world_target, atol=1e-9) or not np.any(prior > 0):
            return image, np.ones(image.shape[:2], np.float32)
        with self.timer.stage("neighbour_blend_warp"):
            rgb, depth = forward_warp(source.left, prior, K, source.T_world_camera, T_world_target, size)
        return rgb, (depth > 0).astype(np.float32)


class TsdfFusionMethod(ReplayMethod):
    """The input frames' priors fused in a TSDF; views are its coloured mesh ray-cast."""

    stages = ("fusion", "fusion_mesh")

    def __init__(self, name: str, config: PipelineConfig, timer: StageTimer) -> None:
        super().__init__(name, config, timer)
        self.fusion: TsdfFusion | None = None
        self.mesh_file = "fused_mesh.ply"
        self._mesh: o3d.geometry.TriangleMesh | None = None
        self._raycaster: ColouredMeshRaycaster | None = None

    def add_frame(self, item: FrameInput) -> None:
        frame, fusion_config = item.frame, self.config.fusion
        if frame.held_out or frame.T_world_camera is None:
            return
        with self.timer.stage("fusion"):
            if self.fusion is None:
                self.fusion = TsdfFusion(fusion_config, item.calibration.K_rect, item.calibration.size)
            prior = item.prior.without_filled() if fusion_config.matched_only else item.prior
            masked = fusion_config.mask_instruments and frame.instrument is not None
            depth = np.where(frame.no_instruments, prior.depth, 0) if masked else prior.depth
            self.fusion.integrate(frame.left, depth.astype(np.float32), frame.T_world_camera)
        self.frames += 1
        self.inputs.add(frame.index)
        self._mesh = self._raycaster = None

    def mesh(self) -> o3d.geometry.TriangleMesh | None:
        if self.fusion is None or self.fusion.frames == 0:
            return None
        if self._mesh is None:
            with self.timer.stage("fusion_mesh"):
                self._mesh = self.fusion.mesh()
            if len(self._mesh.triangles) == 0:
                self.notes.append(
                    f"The fused surface is empty: no voxel reached fusion.min_weight = {self.config.fusion.min_weight}"
                    f" observations in {self.fusion.frames} fused frames."
                )
        return self._mesh

    def render(self, frame: EvaluatedFrame, K: NDArray[np.float64], size: tuple[int, int]) -> Rendering | None:
        mesh = self.mesh()
        if mesh is None or len(mesh.triangles) == 0 or frame.T_world_camera is None:
            return None
        if self._raycaster is None:
            self._raycaster = ColouredMeshRaycaster(mesh)
        depth, rgb = self._raycaster.cast(K, size, frame.T_world_camera)
        return Rendering(depth, rgb)


MethodFactory = Callable[[str, PipelineConfig, StageTimer], ReplayMethod]


def _trainer(mode: str) -> MethodFactory:
    def build(name: str, config: PipelineConfig, timer: StageTimer) -> ReplayMethod:
        from stereo_nerf_core.pipeline.trainer_method import TrainerMethod

        return TrainerMethod(name, config, timer, mode=mode)

    return build


METHODS: dict[str, MethodFactory] = {
    "nearest_frame": NearestFrameMethod,
    "neighbour_blend": NeighbourBlendMethod,
    "stereo_prior": StereoPriorMethod,
    "tsdf_fusion": TsdfFusionMethod,
    "nerf": _trainer("nerf"),
    "sdf": _trainer("sdf"),
    "deformable": _trainer("deformable"),
    "deformable_sdf": _trainer("deformable_sdf"),
}
"""Method name (as in ``replay.methods``) -> factory ``(name, config, timer)``."""


def check_method_names(names: list[str]) -> None:
    """:class:`ReplayError` naming ``replay.methods`` and the known names when a name is unknown."""
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise ReplayError(
            f"parameter replay.methods: unknown method(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(METHODS)}"
        )


BASELINES = ("nearest_frame", "neighbour_blend", "stereo_prior")
"""Always scored, first, so every novel-view table shows what a method gains over them."""


def make_methods(config: PipelineConfig, timer: StageTimer) -> list[ReplayMethod]:
    """The baselines (:data:`BASELINES`, unless listed) then the methods of ``replay.methods``, in order."""
    check_method_names(config.replay.methods)
    names = [name for name in BASELINES if name not in config.replay.methods] + list(config.replay.methods)
    return [METHODS[name](name, config, timer) for name in names]
