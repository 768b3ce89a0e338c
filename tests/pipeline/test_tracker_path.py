"""The tracker's path: the whole trajectory, evenly thinned, in bounded memory."""

from __future__ import annotations

import itertools

from stereo_nerf_core.pipeline.tracker_stage import ThinnedPath


def test_the_path_spans_the_run_evenly_and_ends_with_the_newest_pose() -> None:
    path = ThinnedPath(4)
    for pose in range(3):
        path.append(pose)
    first = path.poses()
    assert first == [0, 1, 2]
    path.append(3)  # full: every other one goes, the stride doubles
    assert path.poses() == [0, 2, 3] and path.stride == 2
    assert first == [0, 1, 2]  # a path already published keeps its poses
    long = ThinnedPath(2000)
    for pose in range(10_000):
        long.append(pose)
    poses = long.poses()
    assert 1000 <= len(poses) <= 2000 and poses[0] == 0 and poses[-1] == 9999
    assert {b - a for a, b in itertools.pairwise(poses[:-1])} == {8}  # 10 000 / 8 = 1250 kept, then the newest
