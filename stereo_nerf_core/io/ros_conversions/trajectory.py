"""nav_msgs/Path and tf2_msgs/TFMessage with several transforms <-> (4, 4) matrices and stamps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.io.errors import MessageError
from stereo_nerf_core.io.messages import (
    MessageClasses,
    matrix_to_pose_stamped,
    matrix_to_tf,
    pose_to_matrix,
    stamp_ns,
    transform_to_matrix,
)

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class StampedTransform:
    """One transform ``parent`` <- ``child``: maps points of ``child`` into ``parent``."""

    stamp_ns: int
    parent: str
    child: str
    T_parent_child: F64
    """(4, 4)."""


def poses_to_path(
    classes: MessageClasses, stamps_ns: Sequence[int], poses: Sequence[F64], *, stamp_ns: int, frame_id: str
) -> Any:
    """A nav_msgs/Path of (4, 4) poses in ``frame_id``, each PoseStamped with its own stamp."""
    if len(stamps_ns) != len(poses):
        raise MessageError(f"path in {frame_id!r}: {len(stamps_ns)} stamps but {len(poses)} poses")
    for index, T in enumerate(poses):
        if np.shape(T) != (4, 4) or not np.all(np.isfinite(T)):
            raise MessageError(f"path in {frame_id!r}: pose {index} must be a finite (4, 4) matrix")
    stamped = [
        matrix_to_pose_stamped(classes, np.asarray(T, np.float64), stamp_ns=int(stamp), frame_id=frame_id)
        for stamp, T in zip(stamps_ns, poses, strict=True)
    ]
    return classes.Path(header=classes.header(stamp_ns, frame_id), poses=stamped)


def path_to_poses(msg: Any, *, topic: str | None = None) -> tuple[list[int], F64]:
    """Stamps (ns) and (N, 4, 4) poses of a nav_msgs/Path; every pose must be in the path's frame."""
    frame = str(msg.header.frame_id)
    stamps: list[int] = []
    matrices: list[F64] = []
    for index, pose in enumerate(msg.poses):
        if str(pose.header.frame_id) not in ("", frame):
            where = f"{topic}: " if topic else ""
            raise MessageError(f"{where}path pose {index} is in {pose.header.frame_id!r}, the path in {frame!r}")
        stamps.append(stamp_ns(pose.header))
        matrices.append(pose_to_matrix(pose.pose))
    return stamps, np.array(matrices, np.float64).reshape(-1, 4, 4)


def transforms_to_tf(classes: MessageClasses, transforms: Sequence[StampedTransform]) -> Any:
    """A tf2_msgs/TFMessage holding every transform, in order."""
    stamped = [
        matrix_to_tf(classes, t.T_parent_child, stamp_ns=t.stamp_ns, parent=t.parent, child=t.child).transforms[0]
        for t in transforms
    ]
    return classes.TFMessage(transforms=stamped)


def tf_to_transforms(msg: Any) -> list[StampedTransform]:
    """Every transform of a tf2_msgs/TFMessage."""
    return [
        StampedTransform(
            stamp_ns(t.header), str(t.header.frame_id), str(t.child_frame_id), transform_to_matrix(t.transform)
        )
        for t in msg.transforms
    ]
