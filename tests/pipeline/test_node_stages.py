"""depth_prior's stage without ROS: a rectified pair in, the documented messages out, errors naming the topic,
and the same prior as the offline replay, which rectifies and estimates in one stage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from stereo_nerf_core.config import PipelineConfig, load_config
from stereo_nerf_core.frontend.masks import background_mask, specular_mask
from stereo_nerf_core.geometry.camera import PinholeCamera, RectifiedView, StereoCalibration
from stereo_nerf_core.io.bag import ROSBAGS_CLASSES, TYPESTORE
from stereo_nerf_core.io.errors import MessageError
from stereo_nerf_core.io.messages import (
    array_to_image,
    camera_info_to_view,
    image_to_array,
    image_to_rgb,
    stamp_ns,
    view_to_camera_info,
)
from stereo_nerf_core.pipeline import node_topics as names
from stereo_nerf_core.pipeline.node_stages import (
    DepthPriorNodeStage,
    StereoFrontendStage,
    StereoMessages,
    depth_prior_threads,
)
from stereo_nerf_core.spine.stages import StereoDepthStage
from tests.conftest import CONFIG, SAMPLE_BAG

WIDTH, HEIGHT = 128, 96
FX, BASELINE_M, SHIFT_PX = 100.0, 0.005, 8
STAMP_NS = 1_700_000_123_456_789_012
C = ROSBAGS_CLASSES


def _rectified_pair() -> StereoCalibration:
    """An ideal rig: identical undistorted cameras, already row-aligned (R = I)."""
    K = np.array([[FX, 0.0, WIDTH / 2], [0.0, FX, HEIGHT / 2], [0.0, 0.0, 1.0]])
    camera = PinholeCamera(WIDTH, HEIGHT, K)
    P_right = np.hstack([K, [[-FX * BASELINE_M], [0.0], [0.0]]])
    return StereoCalibration(
        RectifiedView(camera, np.eye(3), np.hstack([K, np.zeros((3, 1))])), RectifiedView(camera, np.eye(3), P_right)
    )


def _textured_pair() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """A random texture on a fronto-parallel plane: the right image is the left one shifted by SHIFT_PX."""
    coarse = np.random.default_rng(7).integers(0, 256, size=(HEIGHT // 2, WIDTH // 2 + SHIFT_PX, 3), dtype=np.uint8)
    wide = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)
    return np.ascontiguousarray(wide[:, :WIDTH]), np.ascontiguousarray(wide[:, SHIFT_PX : SHIFT_PX + WIDTH])


def _rectified_messages(calibration: StereoCalibration) -> tuple[Any, Any, Any, Any]:
    left, right = _textured_pair()
    frame, right_frame = names.LEFT_RECT_OPTICAL_FRAME, names.RIGHT_RECT_OPTICAL_FRAME
    return (
        array_to_image(C, left, encoding="rgb8", stamp_ns=STAMP_NS, frame_id=frame),
        array_to_image(C, right, encoding="rgb8", stamp_ns=STAMP_NS, frame_id=right_frame),
        view_to_camera_info(C, calibration.left, stamp_ns=STAMP_NS, frame_id=frame),
        view_to_camera_info(C, calibration.right, stamp_ns=STAMP_NS, frame_id=right_frame),
    )


@pytest.fixture(scope="module")
def outputs() -> dict[str, Any]:
    return DepthPriorNodeStage(PipelineConfig(), C).process(*_rectified_messages(_rectified_pair()))


def _round_trip(msg: Any) -> Any:
    return TYPESTORE.deserialize_cdr(TYPESTORE.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def test_depth_of_the_plane_in_metres_nan_for_none(outputs: dict[str, Any]) -> None:
    msg = _round_trip(outputs[names.DEPTH])
    assert (msg.encoding, msg.height, msg.width, msg.step) == ("32FC1", HEIGHT, WIDTH, WIDTH * 4)
    depth = image_to_array(msg)
    valid = np.isfinite(depth)
    assert valid.mean() > 0.5 and np.all(depth[valid] > 0)  # none is NaN (REP 118), never 0
    assert np.median(depth[valid]) == pytest.approx(FX * BASELINE_M / SHIFT_PX, rel=0.02)


def test_outputs_are_the_documented_topics_stamped_and_framed(outputs: dict[str, Any]) -> None:
    assert tuple(outputs) == names.DEPTH_PRIOR_OUTPUTS
    for topic, msg in outputs.items():
        assert stamp_ns(msg.header) == STAMP_NS, topic
        assert msg.header.frame_id == names.LEFT_RECT_OPTICAL_FRAME, topic
    confidence = image_to_array(_round_trip(outputs[names.CONFIDENCE]))
    assert confidence.dtype == np.float32 and np.all((confidence >= 0) & (confidence <= 1))
    info = _round_trip(outputs[names.DEPTH_INFO])
    np.testing.assert_array_equal(np.asarray(info.p).reshape(3, 4), _rectified_pair().left.P)


def test_mask_marks_usable_pixels(outputs: dict[str, Any]) -> None:
    mask = image_to_array(outputs[names.MASK])
    left, _ = _textured_pair()
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    np.testing.assert_array_equal(mask == 0, specular_mask(left) | background_mask(left))


def test_bad_inputs_name_the_topic() -> None:
    calibration = _rectified_pair()
    left, right, left_info, right_info = _rectified_messages(calibration)
    stage = DepthPriorNodeStage(PipelineConfig(), C)
    topic_names = ("/cam/left", "/cam/right", "/cam/left/info", "/cam/right/info")
    mono16 = array_to_image(C, np.zeros((HEIGHT, WIDTH), np.uint16), encoding="mono16", stamp_ns=STAMP_NS, frame_id="x")
    with pytest.raises(MessageError, match="/cam/right"):
        stage.process(left, mono16, left_info, right_info, topic_names=topic_names)
    small = array_to_image(C, np.zeros((10, 10, 3), np.uint8), encoding="rgb8", stamp_ns=STAMP_NS, frame_id="x")
    with pytest.raises(ValueError, match=r"/cam/left: image is 10x10 but /cam/left/info says 128x96"):
        stage.process(small, right, left_info, right_info, topic_names=topic_names)
    uncalibrated = view_to_camera_info(C, calibration.left, stamp_ns=STAMP_NS, frame_id="x")
    uncalibrated.p = np.zeros(12)
    with pytest.raises(ValueError, match="/cam/left/info"):
        stage.process(left, right, uncalibrated, right_info, topic_names=topic_names)


def _raw_pair(raw: dict[str, list[Any]], topics_: list[str], index: int) -> tuple[Any, ...]:
    left, right, left_info, right_info = (raw[t][index] for t in topics_)
    return image_to_rgb(left), image_to_rgb(right), camera_info_to_view(left_info), camera_info_to_view(right_info)


def test_node_prior_from_the_rectified_pair_equals_the_replay_s() -> None:
    """The graph rectifies once (stereo_frontend); depth_prior's prior of that pair is the replay's, bit for bit."""
    config = load_config(CONFIG)
    frames = 3
    from stereo_nerf_core.io.bag import read_messages

    raw: dict[str, list[Any]] = {}
    for message in read_messages(SAMPLE_BAG, names_raw := [names.resolve("", t) for t in names.RAW_INPUTS]):
        raw.setdefault(message.topic, []).append(message.msg)
    frontend, depth_prior = StereoFrontendStage(config, C), DepthPriorNodeStage(config, C)
    replay_stage = StereoDepthStage(config.depth_prior)  # its own state: the prior refines the rig across frames
    for index in range(frames):
        rectified = frontend.process(StereoMessages(*(raw[t][index] for t in names_raw)))
        pair = [rectified[t] for t in (*names.FRONTEND_OUTPUTS,)]
        node_depth = image_to_array(depth_prior.process(*pair)[names.DEPTH])
        replay = replay_stage.process(0, *_raw_pair(raw, names_raw, index)).prior.depth
        np.testing.assert_array_equal(np.nan_to_num(node_depth), replay)


@pytest.mark.parametrize(("requested", "cores", "expected"), [(0, 2, 1), (0, 1, 1), (0, 8, 6), (3, 2, 3), (1, 16, 1)])
def test_depth_prior_threads_leave_the_front_end_peers_their_cores(requested: int, cores: int, expected: int) -> None:
    assert depth_prior_threads(requested, cores) == expected
