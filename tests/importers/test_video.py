"""The video importer: a monocular video becomes a left-only bag stamped at its frame rate; bad inputs name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from stereo_nerf_core.importers.cli import run_import
from stereo_nerf_core.importers.endonerf import llff_to_optical
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.writer import ImportOptions
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.messages import image_to_array, stamp_ns, transform_to_matrix
from stereo_nerf_core.pipeline.splits import held_out_stamps
from tests.importers.helpers import LLFF_POSE, endonerf_poses_bounds, messages_by_topic, texture

W, H, FRAMES, FPS = 64, 48, 6, 5.0


def write_video(path: Path, frames: int = FRAMES) -> Path:
    """An MJPG AVI of ``frames`` textured frames at 5 Hz."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (W, H))
    assert writer.isOpened()
    for index in range(frames):
        writer.write(texture(W, H, seed=index)[..., ::-1])
    writer.release()
    return path


def test_video_becomes_a_left_only_bag_at_its_frame_rate(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi")
    poses = tmp_path / "poses_bounds.npy"
    identity = np.hstack([np.eye(3), np.zeros((3, 1))])
    np.save(poses, endonerf_poses_bounds([LLFF_POSE if i == 2 else identity for i in range(FRAMES)]))
    options = ImportOptions(progress=False)
    summary = run_import("video", video, tmp_path / "bag", options, fps_given=False, fx=50.0, poses_bounds=poses)
    assert summary.frames == FRAMES and summary.fps == FPS
    messages = messages_by_topic(tmp_path / "bag")
    assert set(messages) == {topics.LEFT_IMAGE, topics.LEFT_CAMERA_INFO, topics.TF}  # no right image, no depth
    stamps = [stamp_ns(m.msg.header) for m in messages[topics.LEFT_IMAGE]]
    assert np.diff(stamps).tolist() == [200_000_000] * (FRAMES - 1)  # 5 Hz
    info = messages[topics.LEFT_CAMERA_INFO][0].msg
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), np.array([[50.0, 0, W / 2], [0, 50.0, H / 2], [0, 0, 1]]))
    first = image_to_array(messages[topics.LEFT_IMAGE][0].msg).astype(int)
    source = texture(W, H, seed=0).astype(int)
    error, swapped = np.abs(first - source).mean(), np.abs(first - source[..., ::-1]).mean()
    assert first.shape == (H, W, 3) and error < 12 and error < swapped / 2  # MJPG is lossy; RGB order kept
    for index in (0, 2):  # the LLFF rows, read with OpenGL axes as EndoNeRF does
        expected = llff_to_optical(LLFF_POSE if index == 2 else identity, "opengl")
        np.testing.assert_allclose(
            transform_to_matrix(messages[topics.TF][index].msg.transforms[0].transform), expected, atol=1e-12
        )
    assert held_out_stamps(tmp_path / "bag") == {stamps[1]}  # with poses_bounds: EndoNeRF's split, (i - 1) % 8 == 0
    again = run_import("video", video, tmp_path / "bag10", ImportOptions(fps=10.0, progress=False), fx=50.0)
    assert again.fps == 10.0  # --fps overrides the video's rate; without poses: identity
    assert held_out_stamps(tmp_path / "bag10") is None  # and no split of its own


def test_bad_videos_and_poses_are_refused_naming_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    options = ImportOptions(progress=False)
    with pytest.raises(
        ImporterError, match=rf"{text}: (OpenCV cannot open this file as a video|no frame could be decoded)"
    ):
        run_import("video", text, tmp_path / "a", options, fx=50.0)
    with pytest.raises(ImporterError, match=r"missing\.mp4: no such file"):
        run_import("video", tmp_path / "missing.mp4", tmp_path / "b", options, fx=50.0)
    video = write_video(tmp_path / "clip.avi")
    poses = tmp_path / "poses_bounds.npy"
    np.save(poses, endonerf_poses_bounds([np.hstack([np.eye(3), np.zeros((3, 1))])] * 4))
    with pytest.raises(ImporterError, match=rf"{poses}: 4 poses for a video of 6 frames"):
        run_import("video", video, tmp_path / "c", options, fx=50.0, poses_bounds=poses)
    with pytest.raises(ImporterError, match="format 'video' needs --fx"):
        run_import("video", video, tmp_path / "d", options)
    with pytest.raises(ImporterError, match="--fx must be a positive focal length in pixels, got -3"):
        run_import("video", video, tmp_path / "e", options, fx=-3.0)
    assert not any((tmp_path / name).exists() for name in "abcde")  # nothing half-written
