"""Smooth camera motion over the tissue: the pose of the left raw optical frame in the world.

The camera hovers at ``standoff`` above the tissue's mean plane (world z = 0, camera on the negative
z side looking along +z), sweeps ``travel`` sideways on a gentle arc while looking at a point that
moves less than the camera (so it pans), and rolls a little: about ``rotation_deg`` over the clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.geometry.transforms import make_se3, rotation_about_axis

Float = NDArray[np.float64]


@dataclass(frozen=True)
class CameraTrajectory:
    """Pose ``T_world_left(t)`` (4, 4) of the left raw optical frame for ``0 <= t <= duration_s``."""

    duration_s: float
    """Time of the last frame (poses beyond it continue the same smooth curves)."""
    standoff_m: float = 0.085
    """Distance from the camera to the tissue's mean plane (world z = 0)."""
    travel_m: float = 0.020
    """Approximate path length of the camera centre."""
    rotation_deg: float = 10.0
    """Approximate rotation between the first and the last pose."""

    def phase(self, time_s: float) -> float:
        """Progress through the clip, 0 at the first frame and 1 at the last."""
        return time_s / self.duration_s

    def centre(self, time_s: float) -> Float:
        """(3,) camera centre in the world frame."""
        s = self.phase(time_s) - 0.5
        travel = self.travel_m
        return np.array(
            [
                0.9 * travel * s,
                0.16 * travel * np.cos(np.pi * s) - 0.1 * travel,
                -self.standoff_m - 0.3 * travel * s - 0.08 * travel * np.sin(2.0 * np.pi * s),
            ]
        )

    def pose(self, time_s: float) -> Float:
        """(4, 4) ``T_world_left``: maps left raw optical coordinates to world coordinates."""
        s = self.phase(time_s) - 0.5
        centre = self.centre(time_s)
        # Pan: look at a point that lags the camera, giving ~0.8 of the rotation; roll gives the rest.
        pan = np.tan(np.deg2rad(0.8 * self.rotation_deg)) * self.standoff_m
        target = np.array([centre[0] - pan * s, centre[1] + 0.15 * pan * np.sin(np.pi * s), 0.0])
        forward = target - centre
        forward /= np.linalg.norm(forward)
        right = np.cross(np.array([0.0, 1.0, 0.0]), forward)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        R_look = np.stack([right, down, forward], axis=1)
        roll = rotation_about_axis([0.0, 0.0, 1.0], np.deg2rad(0.5 * self.rotation_deg) * s)
        return make_se3(R_look @ roll, centre)


def path_length_m(trajectory: CameraTrajectory, samples: int = 200) -> float:
    """Length of the camera centre's path from t = 0 to ``duration_s``."""
    times = np.linspace(0.0, trajectory.duration_s, samples)
    centres = np.stack([trajectory.centre(float(t)) for t in times])
    return float(np.sum(np.linalg.norm(np.diff(centres, axis=0), axis=1)))
