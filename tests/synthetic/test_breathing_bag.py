"""The second committed bag (rosbags/breathing_endoscope): small, and its tissue really heaves over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import bag_topics
from stereo_nerf_core.io.messages import camera_info_to_view, image_to_array, pose_to_matrix
from stereo_nerf_core.synthetic import build_world, preset
from tests.synthetic.synthetic_helpers import REPO_ROOT, messages_by_topic

BAG = REPO_ROOT / "rosbags" / "breathing_endoscope"


def _size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.iterdir())


def test_the_breathing_bag_is_small_and_complete() -> None:
    if not (BAG / "metadata.yaml").exists():
        pytest.fail(f"{BAG} is missing: run `make sample-bag`")
    assert _size(BAG) < 10_000_000
    counts = {topic: summary.count for topic, summary in bag_topics(BAG).items()}
    assert counts[topics.LEFT_IMAGE] == counts[topics.RIGHT_IMAGE] == counts[topics.GROUND_TRUTH_LEFT_DEPTH] == 32


def test_the_tissue_heaves_as_the_preset_says() -> None:
    """World heights under the left camera's centre ray, from ground-truth depth and pose, follow the heave."""
    surface = build_world(preset("breathing")).surface
    wanted = [topics.GROUND_TRUTH_LEFT_DEPTH, topics.GROUND_TRUTH_POSE, topics.LEFT_CAMERA_INFO]
    messages = messages_by_topic(BAG, wanted)
    view = camera_info_to_view(messages[topics.LEFT_CAMERA_INFO][0][1])
    heights, heaves = [], []
    for index in (0, 5, 15):  # 0 s, a quarter period (0.5 s: +3 mm), three quarters (1.5 s: -3 mm)
        depth = image_to_array(messages[topics.GROUND_TRUTH_LEFT_DEPTH][index][1])
        pose = pose_to_matrix(messages[topics.GROUND_TRUTH_POSE][index][1].pose)
        h, w = depth.shape
        u, v = w // 2, h // 2
        ray = np.linalg.inv(view.camera.K) @ np.array([u, v, 1.0])  # near the centre: distortion negligible
        point = pose[:3, :3] @ (ray * float(depth[v, u])) + pose[:3, 3]
        heights.append(point[2] - surface.height(point[0], point[1], 0.0))
        heaves.append(surface.height(point[0], point[1], index / 10.0) - surface.height(point[0], point[1], 0.0))
    assert abs(heaves[1]) > 0.002 and abs(heaves[2]) > 0.002  # millimetres of motion at the view centre
    np.testing.assert_allclose(heights, heaves, atol=2e-4)  # the recorded depth moved with the tissue
