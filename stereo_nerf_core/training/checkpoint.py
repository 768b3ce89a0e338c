"""Trainer checkpoints: one ``torch.save`` file readable with ``weights_only=True``, written atomically.

The file is written beside its target under a temporary name and renamed over it: a process killed while
saving leaves the previous checkpoint intact.

Contents: format version, trainer config, field config (and kind), sampling config, scene bounds,
background, step, model and optimiser state, pose corrections (in registration order, with the
fixed keyframe) and the buffered keyframes (arrays as tensors), so training resumes where it
stopped and renders are identical after loading. The ray-sampling random streams restart from the
seed (a resumed run is not bit-identical to an uninterrupted one).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.fields.hash_grid import HashGridConfig
from stereo_nerf_core.fields.nerf_field import NerfFieldConfig
from stereo_nerf_core.fields.sdf_field import SdfFieldConfig
from stereo_nerf_core.fields.space_time import SpaceTimeConfig
from stereo_nerf_core.models.deformable import DeformableFieldConfig
from stereo_nerf_core.render.occupancy import OccupancyGrid
from stereo_nerf_core.render.renderer import SamplingConfig
from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.scene_bounds import SceneBounds
from stereo_nerf_core.training.setup import FieldConfig

if TYPE_CHECKING:
    from stereo_nerf_core.training.trainer import Trainer

FORMAT_VERSION = 2
_ARRAYS = ("rgb", "depth", "confidence", "valid", "K", "T_world_camera", "right_rgb", "right_valid", "foreground")


def save_checkpoint(trainer: Trainer, path: Path) -> None:
    """Write ``trainer`` to ``path`` (see the module docstring); the model must be built."""
    if trainer.model is None or trainer.optimizer is None or trainer.bounds is None or trainer.sampling is None:
        raise TrainingError("nothing to save yet: the model is built on the first training step")
    state = {
        "format_version": FORMAT_VERSION,
        "config": dataclasses.asdict(trainer.config),
        "field_kind": type(trainer.field_config).__name__,
        "time_origin_ns": trainer.time_origin_ns,
        "field_config": _plain(dataclasses.asdict(trainer.field_config)) if trainer.field_config else None,
        "sampling": dataclasses.asdict(trainer.sampling),
        "render_sampling": dataclasses.asdict(trainer.render_sampling) if trainer.render_sampling else None,
        "base_sampling": dataclasses.asdict(trainer.base_sampling) if trainer.base_sampling else None,
        "bounds": [trainer.bounds.minimum.tolist(), trainer.bounds.maximum.tolist()],
        "background": list(trainer.background) if trainer.background is not None else None,
        "step": trainer.step_count,
        "refined_pixels": trainer.refined_pixels,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "pose_order": trainer.poses.indices(),
        "pose_fixed": trainer.poses.fixed_index,
        "pose_translation_scale": trainer.poses.translation_scale,
        "poses": trainer.poses.state_dict(),
        "keyframes": [_keyframe_state(keyframe) for keyframe in trainer.buffer.snapshot()],
        "keyframes_dropped": trainer.buffer.dropped,
        "occupancy": trainer.occupancy.state_dict() if trainer.occupancy is not None else None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as handle:  # a crash mid-write leaves the previous checkpoint whole
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def load_checkpoint(path: Path, *, device: torch.device | str) -> Trainer:
    """The trainer saved at ``path`` on ``device``."""
    from stereo_nerf_core.training.trainer import Trainer

    if not path.is_file():
        raise TrainingError(f"{path}: no such checkpoint")
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise TrainingError(f"{path}: not a readable trainer checkpoint: {error}") from error
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise TrainingError(f"{path}: not a trainer checkpoint of format {FORMAT_VERSION}")
    base = state["base_sampling"]
    trainer = Trainer(
        TrainerConfig(**state["config"]),
        device=device,
        field_config=_field_config(state["field_kind"], state["field_config"]),
        sampling=SamplingConfig(**base) if base else None,
        bounds=SceneBounds(np.array(state["bounds"][0]), np.array(state["bounds"][1])),
        background=tuple(state["background"]) if state["background"] is not None else None,
    )
    for item in state["keyframes"]:
        trainer.buffer.append(_keyframe_from_state(item))
    trainer.build()
    assert trainer.model is not None and trainer.optimizer is not None
    trainer.sampling = SamplingConfig(**state["sampling"])
    trainer.render_sampling = SamplingConfig(**state["render_sampling"])
    trainer.model.load_state_dict(state["model"])
    trainer.poses.fixed_index = state["pose_fixed"]
    trainer.poses.translation_scale = float(state["pose_translation_scale"])
    for index in state["pose_order"]:
        parameter = trainer.poses.register(index)
        if parameter is not None:
            lr = trainer.config.lr_pose
            trainer.optimizer.add_param_group({"params": [parameter], "lr": lr, "initial_lr": lr, "name": "pose"})
    trainer.poses.load_state_dict(state["poses"])
    trainer.poses.to(trainer.device)
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scaler.load_state_dict(state["scaler"])
    trainer.step_count = int(state["step"])
    trainer.time_origin_ns = state["time_origin_ns"]
    trainer.refined_pixels = int(state["refined_pixels"])
    if state.get("occupancy") is not None:
        trainer.occupancy = OccupancyGrid.from_state_dict(state["occupancy"], trainer.device)
    return trainer


def _plain(values: Any) -> Any:
    if isinstance(values, dict):
        return {key: _plain(value) for key, value in values.items()}
    if isinstance(values, tuple):
        return [_plain(value) for value in values]
    return values


def _field_config(kind: str, values: dict[str, Any] | None) -> FieldConfig | None:
    if values is None:
        return None
    if kind == "DeformableFieldConfig":
        canonical = values["canonical"]
        space_time = {**values["space_time"], "spatial_resolutions": tuple(values["space_time"]["spatial_resolutions"])}
        return DeformableFieldConfig(
            _canonical("NerfFieldConfig" if "density_activation" in canonical else "SdfFieldConfig", canonical),
            SpaceTimeConfig(**space_time),
            time_span_s=float(values["time_span_s"]),
        )
    return _canonical(kind, values)


def _canonical(kind: str, values: dict[str, Any]) -> NerfFieldConfig | SdfFieldConfig:
    fields = {**values, "grid": HashGridConfig(**values["grid"])}
    if kind == "NerfFieldConfig":
        return NerfFieldConfig(**fields)
    if kind != "SdfFieldConfig":
        raise TrainingError(f"unknown field configuration {kind!r} in the checkpoint")
    for name in ("init_plane_point_m", "init_plane_normal", "init_sphere_center_m"):
        fields[name] = tuple(fields[name])
    return SdfFieldConfig(**fields)


def _keyframe_state(keyframe: TrainingKeyframe) -> dict[str, Any]:
    state: dict[str, Any] = {"index": keyframe.index, "stamp_ns": keyframe.stamp_ns, "baseline_m": keyframe.baseline_m}
    for name in _ARRAYS:
        value = getattr(keyframe, name)
        state[name] = None if value is None else torch.from_numpy(np.array(value))  # a writable copy
    return state


def _keyframe_from_state(state: dict[str, Any]) -> TrainingKeyframe:
    def array(name: str) -> Any:
        return None if state.get(name) is None else state[name].numpy()

    return TrainingKeyframe(
        index=int(state["index"]),
        stamp_ns=int(state["stamp_ns"]),
        rgb=array("rgb"),
        depth=array("depth"),
        confidence=array("confidence"),
        valid=array("valid"),
        K=array("K"),
        T_world_camera=array("T_world_camera"),
        right_rgb=array("right_rgb"),
        baseline_m=state["baseline_m"],
        right_valid=array("right_valid"),
        foreground=array("foreground"),
    )
