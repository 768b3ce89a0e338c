"""The stage graph replays the sample bag's first frames: types, frames, stamps and counts per topic,
and figures against the bag's ground truth (odometry poses, matched points' depths)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from stereo_nerf_core.config import load_config
from stereo_nerf_core.geometry.transforms import invert_se3, make_se3
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import read_messages
from stereo_nerf_core.io.messages import camera_info_to_view, image_to_array, pose_to_matrix, stamp_ns
from stereo_nerf_core.io.ros_conversions.point_cloud import point_cloud_columns, point_cloud_to_arrays
from stereo_nerf_core.io.ros_conversions.trajectory import path_to_poses, tf_to_transforms
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.graph import GraphRun, StageGraph, replay_bag
from tests.conftest import CONFIG, SAMPLE_BAG

FRAMES = 10
FIRST_STAMP = 1_700_000_000_000_000_000
STAMPS = [FIRST_STAMP + i * 100_000_000 for i in range(FRAMES)]  # 10 Hz, left stamps
LEFT_RECT, RIGHT_RECT = names.LEFT_RECT_OPTICAL_FRAME, names.RIGHT_RECT_OPTICAL_FRAME

PER_FRAME = {  # topic: (type, frame_id) published once per frame with the frame's left stamp
    "/stereo_frontend/left/image_rect": ("sensor_msgs/msg/Image", LEFT_RECT),
    "/stereo_frontend/right/image_rect": ("sensor_msgs/msg/Image", RIGHT_RECT),
    "/stereo_frontend/left/camera_info": ("sensor_msgs/msg/CameraInfo", LEFT_RECT),
    "/stereo_frontend/right/camera_info": ("sensor_msgs/msg/CameraInfo", RIGHT_RECT),
    "/matcher/points": ("sensor_msgs/msg/PointCloud2", LEFT_RECT),
    "/matcher/matches": ("sensor_msgs/msg/PointCloud2", LEFT_RECT),
    "/depth_prior/depth": ("sensor_msgs/msg/Image", LEFT_RECT),
    "/depth_prior/confidence": ("sensor_msgs/msg/Image", LEFT_RECT),
    "/depth_prior/mask": ("sensor_msgs/msg/Image", LEFT_RECT),
    "/depth_prior/camera_info": ("sensor_msgs/msg/CameraInfo", LEFT_RECT),
    "/tracker/pose": ("geometry_msgs/msg/PoseStamped", topics.WORLD_FRAME),
    "/tf": ("tf2_msgs/msg/TFMessage", None),
}


@pytest.fixture(scope="module")
def run() -> GraphRun:
    """The first 10 frames, a tiny CPU field and 2 training steps per keyframe (about 20 s on 2 cores)."""
    if not SAMPLE_BAG.exists():
        pytest.skip(f"sample bag {SAMPLE_BAG} is missing")
    config = load_config(CONFIG)
    config = replace(
        config,
        trainer=replace(
            config.trainer,
            grid_levels=4,
            grid_log2_table_size=12,
            grid_max_resolution=64,
            rays_per_batch=128,
            coarse_samples=8,
            importance_samples=8,
            mixed_precision=False,
        ),
        nodes=replace(
            config.nodes,
            render_rate_hz=2.0,
            render_downscale=4,
            cloud_rate_hz=0.5,
            cloud_downscale=8,
            cloud_keyframes=2,
            mesh_rate_hz=0.5,
            mesh_resolution=16,
        ),
    )
    return replay_bag(SAMPLE_BAG, config, max_frames=FRAMES, device="cpu", train_steps_per_keyframe=2)


def _truth() -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Ground-truth poses of the raw left frame by stamp, and T_raw_rect of the left camera."""
    poses: dict[int, np.ndarray] = {}
    T_raw_rect = np.eye(4)
    for message in read_messages(SAMPLE_BAG, [topics.GROUND_TRUTH_POSE, topics.LEFT_CAMERA_INFO]):
        if message.topic == topics.GROUND_TRUTH_POSE:
            poses[stamp_ns(message.msg.header)] = pose_to_matrix(message.msg.pose)
        else:
            T_raw_rect = make_se3(camera_info_to_view(message.msg).R.T, np.zeros(3))
    return poses, T_raw_rect


def test_every_per_frame_topic_has_one_message_per_frame_with_its_stamp(run: GraphRun) -> None:
    assert run.fed[topics.LEFT_IMAGE] == FRAMES and not run.failures
    for topic, (msgtype, frame_id) in PER_FRAME.items():
        messages = run.on(topic)
        assert [m.__msgtype__ for m in messages] == [msgtype] * FRAMES, topic
        if topic == "/tf":
            assert [t.stamp_ns for m in messages for t in tf_to_transforms(m)] == STAMPS
            assert {(t.parent, t.child) for m in messages for t in tf_to_transforms(m)} == {
                (topics.WORLD_FRAME, topics.LEFT_OPTICAL_FRAME)
            }
            continue
        assert [stamp_ns(m.header) for m in messages] == STAMPS, topic
        assert {m.header.frame_id for m in messages} == {frame_id}, topic


def test_static_transforms_hang_the_rectified_frames_below_the_raw_ones(run: GraphRun) -> None:
    published = [p for p in run.published if p.topic == topics.TF_STATIC]
    assert [p.node for p in published] == [names.STEREO_FRONTEND]  # once: one calibration, rectified once
    for item in published:
        pairs = [(t.parent, t.child, t.stamp_ns) for t in tf_to_transforms(item.msg)]
        assert pairs == [
            (topics.LEFT_OPTICAL_FRAME, LEFT_RECT, FIRST_STAMP),
            (topics.RIGHT_OPTICAL_FRAME, RIGHT_RECT, FIRST_STAMP),
        ]


def test_odometry_follows_the_ground_truth(run: GraphRun) -> None:
    truth, T_raw_rect = _truth()
    poses = [pose_to_matrix(m.pose) for m in run.on("/tracker/pose")]
    true = [truth[s] @ T_raw_rect for s in STAMPS]
    # the odometry starts at the identity: compare motions relative to the first frame
    errors = [
        np.linalg.norm((invert_se3(poses[0]) @ p)[:3, 3] - (invert_se3(true[0]) @ t)[:3, 3])
        for p, t in zip(poses, true, strict=True)
    ]
    travelled = np.linalg.norm((invert_se3(true[0]) @ true[-1])[:3, 3])
    assert travelled > 0.003  # the camera moves several millimetres in these frames
    assert max(errors) < 0.0005, errors  # under half a millimetre
    # /tf carries the raw left frame: T_world_raw @ T_raw_rect is the published rectified pose
    for tf, pose in zip(run.on("/tf"), poses, strict=True):
        (transform,) = tf_to_transforms(tf)
        np.testing.assert_allclose(transform.T_parent_child @ T_raw_rect, pose, atol=1e-9)
    # the path: at nodes.path_rate_hz (1 Hz) by stamps, so once in these 0.9 s, with the poses so far
    (path_msg,) = run.on("/tracker/path")
    stamps, path = path_to_poses(path_msg)
    assert stamps == STAMPS[:1] and stamp_ns(path_msg.header) == FIRST_STAMP
    np.testing.assert_allclose(path, np.stack(poses[:1]), atol=1e-12)


def test_matched_points_lie_on_the_tissue(run: GraphRun) -> None:
    for points, matches in zip(run.on("/matcher/points"), run.on("/matcher/matches"), strict=True):
        xyz, rgb = point_cloud_to_arrays(points)
        assert rgb is not None and len(xyz) > 100
        low, high = np.percentile(xyz[:, 2], [5, 95])
        assert low > 0.065 and high < 0.105  # tissue 67.7-100.6 mm away (rosbags/README.md), no instrument yet
        columns = point_cloud_columns(matches)
        assert list(columns) == ["u_left", "v_left", "u_right", "v_right", "confidence"]
        assert len(columns["u_left"]) == len(xyz)  # every stereo match is triangulated
        assert np.all(np.abs(columns["v_left"] - columns["v_right"]) <= 1.0)  # matching.max_epipolar_px
        disparity = columns["u_left"] - columns["u_right"]
        fx_baseline = xyz[:, 2] * disparity  # Z = fx * B / d on a zero-disparity rectified pair
        np.testing.assert_allclose(fx_baseline, np.median(fx_baseline), rtol=1e-4)


def test_depth_prior_outputs(run: GraphRun) -> None:
    depth = image_to_array(run.on("/depth_prior/depth")[0])
    mask = image_to_array(run.on("/depth_prior/mask")[0])
    assert depth.shape == mask.shape == (256, 320)
    assert set(np.unique(mask)) <= {0, 255} and (mask == 255).mean() > 0.5
    valid = depth[np.isfinite(depth)]
    assert valid.size > 0.8 * depth.size and np.all(valid > 0)  # NaN (REP 118), never 0, where there is no depth
    assert 0.06 < np.median(valid) < 0.11
    assert all(m.encoding == "32FC1" for m in run.on("/depth_prior/depth"))


def test_keyframes_reach_the_trainer_and_its_outputs_keep_their_rates(run: GraphRun) -> None:
    keyframes = run.on("/tracker/keyframe_pose")
    assert keyframes and stamp_ns(keyframes[0].header) == FIRST_STAMP  # the first frame is a keyframe
    assert {stamp_ns(m.header) for m in keyframes} <= set(STAMPS)
    # rendered views: 2 Hz by stamps from the first frame (trained once its keyframe arrived)
    for topic, encoding in (("/trainer/rendered/depth", "32FC1"), ("/trainer/rendered/image", "rgb8")):
        rendered = run.on(topic)
        assert [stamp_ns(m.header) for m in rendered] == [FIRST_STAMP, FIRST_STAMP + 500_000_000], topic
        assert {(m.encoding, m.width, m.height, m.header.frame_id) for m in rendered} == {(encoding, 80, 64, LEFT_RECT)}
    # cloud and refined path: 0.5 Hz, so once in these 0.9 s
    (cloud,) = run.on("/trainer/cloud")
    (refined,) = run.on("/trainer/refined_path")
    assert stamp_ns(cloud.header) == FIRST_STAMP and cloud.header.frame_id == topics.WORLD_FRAME
    assert [f.name for f in cloud.fields] == ["x", "y", "z", "rgb"]
    stamps, poses = path_to_poses(refined)
    assert stamps == [FIRST_STAMP] and refined.header.frame_id == topics.WORLD_FRAME
    np.testing.assert_allclose(poses[0], pose_to_matrix(keyframes[0].pose), atol=1e-12)


def test_a_mesh_is_published_or_its_absence_explained(run: GraphRun) -> None:
    meshes = run.on("/trainer/mesh")
    for marker in meshes:
        assert marker.type == 11 and marker.header.frame_id == topics.WORLD_FRAME and len(marker.points) % 3 == 0
    assert len(meshes) <= 1  # 0.5 Hz over 0.9 s


def test_bad_input_sets_are_reported_per_node_and_skipped() -> None:
    graph = StageGraph(load_config(CONFIG), device="cpu")
    messages = list(read_messages(SAMPLE_BAG, [topics.LEFT_CAMERA_INFO, topics.RIGHT_CAMERA_INFO]))[:2]
    for message in messages:
        graph.feed(message.topic, message.msg)
    bad: Any = messages[0].msg  # a camera_info where an image should be
    graph.feed(topics.LEFT_IMAGE, _with_encoding(bad))
    graph.feed(topics.RIGHT_IMAGE, _with_encoding(bad))
    assert list(graph.run.failures) == ["stereo_frontend"]  # nothing downstream ever sees the bad pair
    assert topics.LEFT_IMAGE in graph.run.failures["stereo_frontend"][0]
    graph.trainer.cleanup()


def _with_encoding(info: Any) -> Any:
    from stereo_nerf_core.io.bag import ROSBAGS_CLASSES as C

    return C.Image(
        header=info.header, height=2, width=2, encoding="yuv422", is_bigendian=0, step=4, data=np.zeros(8, np.uint8)
    )
