"""Observed views for silhouette alignment: a binary object mask, intrinsics and the pose in the rig.

``views[0]`` is the reference camera whose ``T_camera_object`` is estimated; view ``i`` sees the object
at ``inv(T_ref_view) @ T_ref_object``, where ``T_ref_view`` (4, 4) maps view-``i`` camera points into
the reference camera frame (for a stereo pair with the left camera as reference: ``T_left_right``,
translation ``(+baseline, 0, 0)`` for a rectified pair).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from numpy.typing import NDArray

from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.pose import check_rigid

Float = NDArray[np.float64]


def binary_mask(mask: NDArray | torch.Tensor) -> NDArray[np.bool_]:
    """A mask as (H, W) bool: floats above 0.5, integers and bools non-zero; colour images must be single-channel."""
    array = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise AlignmentError(f"a mask must be a single-channel (H, W) image, got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        return np.asarray(array > 0.5)
    return np.asarray(array != 0)


@dataclass(frozen=True)
class AlignmentView:
    """One observed view: object mask, pinhole intrinsics, image size and pose relative to the reference."""

    mask: NDArray[np.bool_]
    """(height, width) bool object mask (anything :func:`binary_mask` accepts; converted)."""
    K: Float
    """(3, 3) intrinsics of the mask's pixel grid (pixel-centre convention, no distortion)."""
    width: int
    """Image width in pixels the intrinsics belong to; the mask must have it."""
    height: int
    """Image height in pixels the intrinsics belong to; the mask must have it."""
    T_ref_view: Float = field(default_factory=lambda: np.eye(4))
    """(4, 4) rigid transform from this view's camera frame to the reference view's (identity for view 0)."""
    name: str = "view"
    """Name used in messages (e.g. the mask file)."""

    def __post_init__(self) -> None:
        mask = binary_mask(self.mask)
        if mask.shape != (self.height, self.width):
            raise AlignmentError(
                f"mask of {self.name} is {mask.shape[1]}x{mask.shape[0]} but its intrinsics are for "
                f"{self.width}x{self.height} images"
            )
        if not mask.any():
            raise AlignmentError(f"mask of {self.name} is empty (no object pixels)")
        K = np.asarray(self.K, dtype=np.float64)
        if K.shape != (3, 3) or not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise AlignmentError(f"intrinsics of {self.name} must be a finite 3x3 K with fx, fy > 0, got {K.tolist()}")
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "T_ref_view", check_rigid(self.T_ref_view, f"relative pose of {self.name}"))

    @property
    def T_view_ref(self) -> Float:
        """(4, 4) transform from the reference camera frame into this view's."""
        R, t = self.T_ref_view[:3, :3], self.T_ref_view[:3, 3]
        inverse = np.eye(4)
        inverse[:3, :3], inverse[:3, 3] = R.T, -R.T @ t
        return inverse


@dataclass(frozen=True)
class ScaledView:
    """A view resampled for the optimisation: fractional mask, scaled intrinsics, pose from the reference."""

    target: NDArray[np.float32]
    """(height, width) area-averaged mask in [0, 1]."""
    K: Float
    """(3, 3) intrinsics of the resampled grid."""
    width: int
    """Resampled width in pixels."""
    height: int
    """Resampled height in pixels."""
    T_view_ref: Float
    """(4, 4) transform from the reference camera frame into this view's."""
    name: str
    """The view's name."""


def crop_to_mask(view: AlignmentView, margin: float) -> AlignmentView:
    """``view`` cropped to a square around its mask: the bounding box's longer side plus ``margin`` times it per side.

    The crop stays inside the image and the principal point moves with it; the whole view comes back
    when the square covers the image. Cropping before downsampling keeps small objects in many pixels;
    the square leaves room for a start pose's silhouette turned or shifted away from the mask.
    """
    rows, cols = np.nonzero(view.mask)
    side = max(cols.max() - cols.min() + 1, rows.max() - rows.min() + 1) * (1.0 + 2.0 * margin)
    centre_x, centre_y = (cols.min() + cols.max()) / 2.0, (rows.min() + rows.max()) / 2.0
    x0, x1 = max(0, int(np.floor(centre_x - side / 2))), min(view.width - 1, int(np.ceil(centre_x + side / 2)))
    y0, y1 = max(0, int(np.floor(centre_y - side / 2))), min(view.height - 1, int(np.ceil(centre_y + side / 2)))
    if (x0, y0, x1, y1) == (0, 0, view.width - 1, view.height - 1):
        return view
    K = view.K.copy()
    K[0, 2] -= x0
    K[1, 2] -= y0
    mask = view.mask[y0 : y1 + 1, x0 : x1 + 1]
    return AlignmentView(mask, K, x1 - x0 + 1, y1 - y0 + 1, view.T_ref_view, view.name)


def scale_view(view: AlignmentView | ScaledView, max_side: int) -> ScaledView:
    """``view`` area-downsampled so its longer side is at most ``max_side`` pixels (never upsampled).

    The intrinsics keep the pixel-centre convention: new ``u' = s u + (s - 1) / 2`` for scale ``s``.
    """
    target = view.target if isinstance(view, ScaledView) else view.mask.astype(np.float32)
    scale = min(1.0, max_side / max(view.width, view.height))
    width, height = max(1, round(view.width * scale)), max(1, round(view.height * scale))
    sx, sy = width / view.width, height / view.height
    K = view.K.copy()
    K[0] *= sx
    K[1] *= sy
    K[0, 2] += (sx - 1.0) / 2.0
    K[1, 2] += (sy - 1.0) / 2.0
    if (width, height) != (view.width, view.height):
        target = cv2.resize(target, (width, height), interpolation=cv2.INTER_AREA)
    return ScaledView(target, K, width, height, view.T_view_ref, view.name)
