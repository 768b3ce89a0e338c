"""FrameAssembler on hand-made message streams: pairing, side data, and every way a message can be unusable."""

import numpy as np

from stereo_nerf_core.config import SyncConfig
from stereo_nerf_core.geometry import make_se3
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES as C
from stereo_nerf_core.io.bag import BagMessage
from stereo_nerf_core.io.messages import array_to_image, matrix_to_pose_stamped, view_to_camera_info
from stereo_nerf_core.spine.frames import FrameAssembler

MS = 1_000_000
T0 = 1_700_000_000_000_000_000


def _msg(topic: str, msg: object, stamp: int) -> BagMessage:
    return BagMessage(topic, msg.__msgtype__, stamp, msg)  # type: ignore[attr-defined]


def _image(topic: str, stamp: int, size: tuple[int, int] = (160, 128), encoding: str = "rgb8") -> BagMessage:
    pixels = np.full((size[1], size[0], 3), 90, np.uint8) if encoding == "rgb8" else np.zeros(size[::-1], np.uint16)
    return _msg(topic, array_to_image(C, pixels, encoding=encoding, stamp_ns=stamp, frame_id="cam"), stamp)


def _infos(rig: StereoCalibration, stamp: int) -> list[BagMessage]:
    return [
        _msg(topics.LEFT_CAMERA_INFO, view_to_camera_info(C, rig.left, stamp_ns=stamp, frame_id="l"), stamp),
        _msg(topics.RIGHT_CAMERA_INFO, view_to_camera_info(C, rig.right, stamp_ns=stamp, frame_id="r"), stamp),
    ]


def test_pairs_carry_their_side_data_and_drops_are_counted(small_rig: StereoCalibration) -> None:
    stream: list[BagMessage] = []
    for i in range(4):
        stamp = T0 + i * 100 * MS
        stream += _infos(small_rig, stamp)
        stream.append(_image(topics.LEFT_IMAGE, stamp))
        if i != 2:  # the right image of frame 2 was dropped by the driver
            stream.append(_image(topics.RIGHT_IMAGE, stamp + MS // 2))
        pose = make_se3(np.eye(3), [0.001 * i, 0, 0])
        stream.append(
            _msg(topics.GROUND_TRUTH_POSE, matrix_to_pose_stamped(C, pose, stamp_ns=stamp, frame_id="world"), stamp)
        )
    assembler = FrameAssembler(SyncConfig(slop_s=0.005, queue_size=5))
    frames = list(assembler.frames_from(stream))
    assert [f.stamp_ns - T0 for f in frames] == [0, 100 * MS, 300 * MS]
    assert [f.T_world_left_truth[0, 3] for f in frames if f.T_world_left_truth is not None] == [0.0, 0.001, 0.003]
    assert frames[0].instrument_mask is None and frames[0].ground_truth_depth is None
    assert assembler.sync.stats.as_dict() == {"pairs": 3, "dropped_left": 1, "dropped_right": 0}


def test_unusable_messages_are_reported_by_topic_and_the_stream_goes_on(small_rig: StereoCalibration) -> None:
    stream = [_image(topics.LEFT_IMAGE, T0), _image(topics.RIGHT_IMAGE, T0)]  # before any camera_info
    stamp = T0 + 100 * MS
    stream += _infos(small_rig, stamp)
    stream += [_image(topics.LEFT_IMAGE, stamp, size=(80, 64)), _image(topics.RIGHT_IMAGE, stamp)]  # wrong size
    stamp = T0 + 200 * MS
    stream += [_image(topics.LEFT_IMAGE, stamp, encoding="mono16"), _image(topics.RIGHT_IMAGE, stamp)]  # not colour
    stamp = T0 + 300 * MS
    stream += [_image(topics.LEFT_IMAGE, stamp), _image(topics.RIGHT_IMAGE, stamp)]  # fine
    assembler = FrameAssembler(SyncConfig())
    frames = list(assembler.frames_from(stream))
    assert len(frames) == 1 and frames[0].stamp_ns == stamp
    skipped = assembler.report.skipped
    assert skipped[f"no camera_info yet on {topics.LEFT_CAMERA_INFO}"] == 1
    assert skipped[f"bad message on {topics.LEFT_IMAGE}"] == 2
    text = "\n".join(assembler.report.problems)
    assert "image is 80x64 but /stereo/left/camera_info says 160x128" in text
    assert "expected an 8-bit colour image, got encoding 'mono16'" in text
