"""Shared fixtures: a small calibrated rig and paths to the committed sample bag and the shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.geometry.camera import PinholeCamera, StereoCalibration
from stereo_nerf_core.geometry.transforms import rotation_about_axis

REPO = Path(__file__).resolve().parents[1]
SAMPLE_BAG = REPO / "rosbags" / "sample_endoscope"
SHARED_DATA = REPO.parent / "shared" / "data"
CONFIG = REPO / "config" / "pipeline.yaml"
"""The nodes' parameter file."""
REPLAY_CONFIG = REPO / "config" / "replay.yaml"
"""The offline replay's (names the nodes' file)."""
SHIPPED_METHODS = "methods: [nearest_frame, neighbour_blend, stereo_prior, tsdf_fusion, nerf, sdf]"


def replay_yaml_with(path: Path, shipped: str, replacement: str) -> Path:
    """A copy of the shipped replay YAML at ``path`` with the text ``shipped`` (which must be in it) replaced, naming
    the shipped nodes' file."""
    text = REPLAY_CONFIG.read_text()
    assert shipped in text, f"{shipped!r} is not in {REPLAY_CONFIG}"
    text = text.replace(shipped, replacement).replace("nodes_parameters: pipeline.yaml", f"nodes_parameters: {CONFIG}")
    path.write_text(text)
    return path


@pytest.fixture
def small_rig() -> StereoCalibration:
    """A 160x128 rig with SCARED-like optics (f 129 px, baseline 4.1 mm), mild distortion and a slight toe-in."""
    K = np.array([[129.4, 0.0, 79.6], [0.0, 129.4, 63.2], [0.0, 0.0, 1.0]])
    left = PinholeCamera(160, 128, K, np.array([-0.08, 0.02, 0.0, 0.0, 0.0]))
    right = PinholeCamera(
        160, 128, K * np.array([[1.002, 1, 1], [1, 1.002, 1], [1, 1, 1]]), np.array([-0.07, 0.015, 0, 0, 0])
    )
    R = rotation_about_axis([0.1, 1.0, 0.05], np.deg2rad(0.4))
    t = R @ np.array([-0.0041, 0.00005, 0.0])
    return StereoCalibration.from_rig(left, right, R, t)
