"""Building blocks of the node stages: drop-oldest queues, rate gates, stamp synchronisation, the trainer's
life cycle and inputs (it never waits for training), and the topic names the launch file shares."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.frontend.sync import StampSync
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES as C
from stereo_nerf_core.io.messages import array_to_image, image_to_array, matrix_to_pose_stamped, view_to_camera_info
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.backpressure import DropOldestQueue, RateGate
from stereo_nerf_core.pipeline.errors import PipelineError
from stereo_nerf_core.pipeline.node_stages import rectified_views
from stereo_nerf_core.pipeline.trainer_stage import TrainerStage
from stereo_nerf_core.training.errors import TrainingError


def test_drop_oldest_queue_keeps_the_newest_and_counts() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(2, name="tracker input queue")
    assert [queue.put(i) for i in range(5)] == [None, None, 0, 1, 2]
    assert (queue.received, queue.dropped, len(queue)) == (5, 3, 2)
    assert [queue.take(), queue.take(), queue.take()] == [3, 4, None]
    with pytest.raises(PipelineError, match="trainer: queue capacity must be >= 1, got 0"):
        DropOldestQueue(0, name="trainer")


def test_drop_oldest_queue_is_thread_safe() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(3, name="q")
    threads = [threading.Thread(target=lambda: [queue.put(i) for i in range(1000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert queue.received == 4000 and queue.dropped == 3997 and len(queue) == 3


def test_rate_gate_by_stamps() -> None:
    gate = RateGate(2.0, name="nodes.render_rate_hz")  # every 0.5 s
    due = [t for t in range(0, 2_000_000_000, 100_000_000) if gate.due(t)]
    assert due == [0, 500_000_000, 1_000_000_000, 1_500_000_000]
    assert not any(RateGate(0.0, name="off").due(t) for t in range(0, 10**10, 10**9))
    with pytest.raises(PipelineError, match=r"nodes\.cloud_rate_hz: rate must be >= 0 Hz"):
        RateGate(-1.0, name="nodes.cloud_rate_hz")


def _image(stamp: int) -> object:
    return array_to_image(C, np.zeros((2, 2), np.uint8), encoding="mono8", stamp_ns=stamp, frame_id="f")


def test_stamp_sync_pairs_within_slop_and_drops_the_unpaired() -> None:
    sync: StampSync[object] = StampSync(("/a", "/b"), slop_ns=5, queue_size=2)
    assert sync.push("/a", 100, _image(100)) is None
    assert sync.push("/b", 200, _image(200)) is None  # too far from 100
    pair = sync.push("/a", 203, _image(203))
    assert pair is not None and pair.stamp_ns == 203
    assert [m.header.stamp.nanosec for m in pair.items] == [203, 200]  # type: ignore[attr-defined]
    assert sync.push("/a", 300, _image(300)) is None and sync.push("/a", 400, _image(400)) is None
    assert sync.push("/a", 500, _image(500)) is None  # queue of /a is full: 300 aged out (100 went with the set)
    assert sync.dropped == 2 and sync.dropped_by_channel == {"/a": 2, "/b": 0} and sync.sets == 1
    with pytest.raises(FrontendError, match="/c is not an input"):
        sync.push("/c", 1, _image(1))


def test_node_topics_resolve_like_ros() -> None:
    assert names.resolve("tracker", "~/pose") == "/tracker/pose"
    assert names.resolve("tracker", "~/pose", "cart") == "/cart/tracker/pose"
    assert names.resolve("tracker", "/tf", "cart") == "/tf"
    # inputs are relative: they resolve in the node's namespace, so the whole graph moves with it
    assert names.TRACKER_INPUTS[0] == "stereo_frontend/left/image_rect"
    assert names.TRACKER_PRIOR_INPUTS == ("depth_prior/depth", "depth_prior/confidence")
    assert names.DEPTH_PRIOR_INPUTS == names.MATCHER_INPUTS == names.RECTIFIED_PAIR
    assert names.TRAINER_POSE_INPUTS == ("tracker/pose", "tracker/keyframe_pose")
    assert names.RAW_INPUTS[0] == "stereo/left/image_raw"
    assert names.resolve("depth_prior", names.TRACKER_PRIOR_INPUTS[0], "cart") == "/cart/depth_prior/depth"
    assert names.resolve("tracker", names.RAW_INPUTS[0]) == "/stereo/left/image_raw"


def _frame_messages(rig: StereoCalibration, stamp: int) -> tuple[object, ...]:
    width, height = rig.size
    left_view, right_view = rectified_views(rig)
    depth = np.full((height, width), 0.08, np.float32)
    return (
        array_to_image(C, depth, encoding="32FC1", stamp_ns=stamp, frame_id="l"),
        array_to_image(C, np.ones_like(depth), encoding="32FC1", stamp_ns=stamp, frame_id="l"),
        array_to_image(C, np.full((height, width), 255, np.uint8), encoding="mono8", stamp_ns=stamp, frame_id="l"),
        array_to_image(C, np.zeros((height, width, 3), np.uint8), encoding="rgb8", stamp_ns=stamp, frame_id="l"),
        view_to_camera_info(C, left_view, stamp_ns=stamp, frame_id="l"),
        view_to_camera_info(C, right_view, stamp_ns=stamp, frame_id="r"),
    )


def test_trainer_stage_life_cycle_and_inputs_never_wait_for_training(small_rig: StereoCalibration) -> None:
    stage = TrainerStage(PipelineConfig(), C, device="cpu")
    assert stage.trainer is None  # nothing built on construction
    with pytest.raises(PipelineError, match="trainer: not configured"):
        stage.save_checkpoint("unused.pt")
    stage.configure()
    assert stage.trainer is not None and stage.trainer.model is None  # the model waits for keyframes
    pose = matrix_to_pose_stamped(C, np.eye(4), stamp_ns=7, frame_id="world")
    assert stage.accept_keyframe_pose(pose) is False  # its frame has not come yet: the pose waits
    with stage.trainer.lock:  # a training step (or a render) in progress ...
        done = threading.Event()
        worker = threading.Thread(target=lambda: (stage.accept_frame(*_frame_messages(small_rig, 7)), done.set()))
        start = time.monotonic()
        worker.start()
        assert done.wait(10.0), "accept_frame waited for the training lock"
        worker.join()
    assert time.monotonic() - start < 10.0
    assert stage.keyframes_added == 1 and len(stage.trainer.buffer) == 1 and not stage.pending
    (keyframe,) = stage.trainer.buffer.snapshot()
    assert keyframe.stamp_ns == 7 and keyframe.depth.shape == (small_rig.size[1], small_rig.size[0])
    np.testing.assert_allclose(keyframe.K, small_rig.K_rect)
    assert list(stage.outputs_due(7)) == []  # no field yet: nothing to publish, and why is kept
    assert "no model yet" in stage.outputs_skipped["~/rendered/depth"]
    stage.reset()
    assert stage.keyframes_added == 0 and stage.trainer is not None and len(stage.trainer.buffer) == 0
    stage.cleanup()
    assert stage.trainer is None


def test_trainer_stage_forgets_keyframe_poses_whose_frame_never_comes() -> None:
    config = PipelineConfig()
    stage = TrainerStage(config, C, device="cpu")
    stage.configure()
    for stamp in range(config.nodes.frame_cache + 3):
        stage.accept_keyframe_pose(matrix_to_pose_stamped(C, np.eye(4), stamp_ns=stamp, frame_id="world"))
    assert stage.keyframes_missing == 3 and len(stage.pending) == config.nodes.frame_cache


def _tiny(config: PipelineConfig) -> PipelineConfig:
    from dataclasses import replace

    trainer = replace(
        config.trainer,
        grid_levels=4,
        grid_log2_table_size=10,
        grid_max_resolution=32,
        rays_per_batch=64,
        coarse_samples=8,
        importance_samples=4,
        mixed_precision=False,
    )
    return replace(config, trainer=trainer, nodes=replace(config.nodes, render_downscale=4, mesh_resolution=12))


def test_trainer_stage_renders_saves_loads_and_explains_a_missing_mesh(
    small_rig: StereoCalibration, tmp_path: Path
) -> None:
    stage = TrainerStage(_tiny(PipelineConfig()), C, device="cpu")
    stage.configure()
    frame = _frame_messages(small_rig, 5)
    pose = matrix_to_pose_stamped(C, np.eye(4), stamp_ns=5, frame_id="world")
    stage.accept_frame(*frame)
    assert stage.accept_keyframe_pose(pose) is True
    stage.accept_pose(pose)
    assert stage.trainer is not None
    stage.trainer.train(max_steps=2)
    rendered = stage.render_latest()
    depth = image_to_array(rendered["~/rendered/depth"])
    assert depth.shape == (32, 40) and rendered["~/rendered/image"].encoding == "rgb8"  # 160x128 / 4
    assert rendered["~/rendered/depth"].header.frame_id == names.LEFT_RECT_OPTICAL_FRAME
    assert stage.save_checkpoint(tmp_path / "model.pt").is_file()
    restored = TrainerStage(_tiny(PipelineConfig()), C, device="cpu")
    restored.load_checkpoint(tmp_path / "model.pt")
    restored.accept_frame(*frame)
    restored.accept_pose(pose)
    np.testing.assert_array_equal(image_to_array(restored.render_latest()["~/rendered/depth"]), depth)
    assert restored.keyframes_added == 1
    if stage.mesh_marker(5) is None:  # a field this young usually has no surface yet: the reason is kept
        assert "no surface yet" in stage.outputs_skipped["~/mesh"]
        with pytest.raises(TrainingError, match="no surface yet"):
            stage.write_mesh(tmp_path / "mesh.ply")
    stage.cleanup()


def test_trainer_checkpoints_itself_resumes_after_a_kill_and_sets_a_corrupt_file_aside(
    small_rig: StereoCalibration, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    import torch

    checkpoint = tmp_path / "auto.pt"
    config = _tiny(PipelineConfig())
    config = replace(config, nodes=replace(config.nodes, checkpoint_path=str(checkpoint), checkpoint_period_s=1.0))
    stage = TrainerStage(config, C, device="cpu")
    stage.configure()
    assert stage.resume() is None  # nothing to resume yet
    start = stage.checkpoint_gate.last_ns
    assert start is not None
    frame, pose = _frame_messages(small_rig, 5), matrix_to_pose_stamped(C, np.eye(4), stamp_ns=5, frame_id="world")
    stage.accept_frame(*frame)
    assert stage.accept_keyframe_pose(pose) is True
    stage.accept_pose(pose)
    assert stage.auto_checkpoint(start + 2_000_000_000) is None  # no model yet
    assert stage.trainer is not None
    stage.trainer.train(max_steps=3)
    assert stage.auto_checkpoint(start + 500_000_000) is None  # the period (1 s) is not over
    assert stage.auto_checkpoint(start + 2_000_000_000) == checkpoint and checkpoint.is_file()
    assert stage.auto_checkpoint(start + 4_000_000_000) is None  # no training step since the last one
    depth = image_to_array(stage.render_latest()["~/rendered/depth"])
    saved = checkpoint.read_bytes()
    assert stage.checkpoint_time_ns is not None
    first = stage.health_values(stage.checkpoint_time_ns + 2_000_000_000)
    assert first["keyframes_held"] == "1" and first["steps"] == "3" and first["checkpoint_age_s"] == "2"
    assert first["newest_keyframe_stamp_ns"] == "5"  # the one keyframe, stamped 5 ns
    assert float(first["loss"]) > 0 and first["steps_per_second"] == "0.00"  # no rate before a second report
    stage.trainer.train(max_steps=2)
    later = stage.health_values(stage.checkpoint_time_ns + 4_000_000_000)
    assert later["steps"] == "5" and later["steps_per_second"] == "1.00"  # 2 steps in 2 s

    def killed_mid_write(*args: object, **kwargs: object) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(torch, "save", killed_mid_write)
    with pytest.raises(OSError, match="no space left"):
        stage.auto_checkpoint(start + 6_000_000_000)
    monkeypatch.undo()
    assert checkpoint.read_bytes() == saved and sorted(p.name for p in tmp_path.iterdir()) == ["auto.pt"]  # atomic

    restarted = TrainerStage(config, C, device="cpu")  # the respawned process
    restarted.configure()
    assert restarted.resume() == f"resumed from {checkpoint}: step 3, 1 keyframes"  # the 2 later steps are lost
    restarted.accept_frame(*frame)
    restarted.accept_pose(pose)
    np.testing.assert_array_equal(image_to_array(restarted.render_latest()["~/rendered/depth"]), depth)

    checkpoint.write_bytes(saved[: len(saved) // 2])  # cut off
    third = TrainerStage(config, C, device="cpu")
    third.configure()
    message = third.resume()
    assert message is not None and message.startswith(f"refused {checkpoint}: not a readable trainer checkpoint")
    assert message.endswith("training starts fresh")
    (kept,) = tmp_path.glob("auto.pt.corrupt-*")
    assert kept.read_bytes() == saved[: len(saved) // 2] and kept.name in message and not checkpoint.exists()
    assert third.steps == 0 and third.trainer is not None and len(third.trainer.buffer) == 0


def test_rectified_infos_that_are_no_pair_name_both_topics(small_rig: StereoCalibration) -> None:
    from stereo_nerf_core.frontend.errors import FrontendError
    from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView
    from stereo_nerf_core.pipeline.node_stages import calibration_from_rectified

    left_view, right_view = rectified_views(small_rig)
    other = PinholeCamera(80, 64, right_view.camera.K)
    left = view_to_camera_info(C, left_view, stamp_ns=0, frame_id="l")
    right = view_to_camera_info(C, RectifiedView(other, np.eye(3), right_view.P), stamp_ns=0, frame_id="r")
    with pytest.raises(FrontendError, match="/a/camera_info and /b/camera_info do not form a rectified stereo pair"):
        calibration_from_rectified(left, right, topics_=("/a/camera_info", "/b/camera_info"))
    calibration = calibration_from_rectified(
        left, view_to_camera_info(C, right_view, stamp_ns=0, frame_id="r"), topics_=("/a", "/b")
    )
    assert calibration.baseline_m == pytest.approx(small_rig.baseline_m)
    np.testing.assert_allclose(calibration.K_rect, small_rig.K_rect)
