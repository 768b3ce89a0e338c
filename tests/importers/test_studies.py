"""The studies importer: a rectified study folder becomes a bag that replays; truth encodings; splits."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from stereo_nerf_core.config import load_config
from stereo_nerf_core.geometry.camera import PinholeCamera, StereoCalibration
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.geometry.transforms import invert_se3, make_se3, rotation_about_axis
from stereo_nerf_core.importers.calibration import RectifiedPair
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.studies import load_studies, rectified_depth_to_raw
from stereo_nerf_core.importers.writer import START_STAMP_NS, ImportOptions, ImportSummary, write_recording
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import bag_topics
from stereo_nerf_core.io.messages import image_to_array, stamp_ns, transform_to_matrix
from stereo_nerf_core.pipeline.replay import ReplaySummary, run_replay
from tests.conftest import CONFIG
from tests.importers.helpers import (
    BASELINE_M,
    DEPTH_M,
    FX,
    HEIGHT,
    ROW_DISPARITY,
    SCENE_DEPTH_M,
    WIDTH,
    custom_data,
    messages_by_topic,
    stereo_scene,
    write_gray,
    write_rgb,
    write_stereo_yaml,
    write_study,
)

QUIET = ImportOptions(progress=False)
RECTIFIED = RectifiedPair(fx=FX, baseline_m=BASELINE_M)


@pytest.fixture(scope="module")
def study_bag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ImportSummary]:
    root = write_study(tmp_path_factory.mktemp("study") / "exp1")
    (root / "train.txt").write_text("000000\n000002.png  # by file name\n")
    (root / "test.txt").write_text("1\n")
    bag = root.parent / "bag"
    return bag, write_recording(load_studies(root, rectified=RECTIFIED), bag, QUIET)


@pytest.fixture(scope="module")
def study_replay(study_bag: tuple[Path, ImportSummary], tmp_path_factory: pytest.TempPathFactory) -> ReplaySummary:
    config = load_config(CONFIG)
    front_end = replace(config, replay=replace(config.replay, methods=["stereo_prior", "tsdf_fusion"]))
    return run_replay(study_bag[0], front_end, tmp_path_factory.mktemp("replay"), progress=False)


def test_study_topics_counts_and_summary(study_bag: tuple[Path, ImportSummary]) -> None:
    bag, summary = study_bag
    counts = {topic: item.count for topic, item in bag_topics(bag).items()}
    per_frame: tuple[str, ...] = (
        topics.LEFT_IMAGE,
        topics.RIGHT_IMAGE,
        topics.LEFT_CAMERA_INFO,
        topics.RIGHT_CAMERA_INFO,
    )
    per_frame += (topics.LEFT_INSTRUMENT_MASK, topics.RIGHT_INSTRUMENT_MASK, topics.GROUND_TRUTH_LEFT_DEPTH)
    assert counts == {**dict.fromkeys(per_frame, 3), topics.TF_STATIC: 1}
    assert (summary.frames, summary.width, summary.height) == (3, WIDTH, HEIGHT)
    assert (
        "import studies done: 3 frames 160x128 at 10 Hz (3 left / 3 right images, 3 masks, 3 ground-truth depths) -> "
        in summary.one_line()
    )


def test_study_messages_carry_the_rectified_calibration_and_the_pixels(study_bag: tuple[Path, ImportSummary]) -> None:
    messages = messages_by_topic(study_bag[0])
    for index in range(3):
        stamp = START_STAMP_NS + index * 100_000_000
        for topic in (topics.LEFT_IMAGE, topics.RIGHT_CAMERA_INFO, topics.GROUND_TRUTH_LEFT_DEPTH):
            message = messages[topic][index]
            assert message.log_time_ns == stamp == stamp_ns(message.msg.header)
    left_info, right_info = messages[topics.LEFT_CAMERA_INFO][0].msg, messages[topics.RIGHT_CAMERA_INFO][0].msg
    np.testing.assert_allclose(np.reshape(left_info.r, (3, 3)), np.eye(3))
    np.testing.assert_allclose(np.reshape(right_info.r, (3, 3)), np.eye(3))
    assert right_info.p[3] == pytest.approx(-FX * BASELINE_M)
    assert left_info.k[0] == FX and left_info.k[2] == (WIDTH - 1) / 2 and left_info.p[3] == 0.0
    left, right = stereo_scene(seed=1)
    image = messages[topics.RIGHT_IMAGE][1].msg
    assert image.encoding == "rgb8" and image.header.frame_id == topics.RIGHT_OPTICAL_FRAME
    np.testing.assert_array_equal(image_to_array(image), right)
    np.testing.assert_array_equal(image_to_array(messages[topics.LEFT_IMAGE][1].msg), left)
    mask = image_to_array(messages[topics.LEFT_INSTRUMENT_MASK][0].msg)
    assert mask[0, -1] == 255 and mask[-1, 0] == 0 and mask.sum() == 255 * 20 * 30
    depth = messages[topics.GROUND_TRUTH_LEFT_DEPTH][2].msg
    assert depth.encoding == "32FC1"
    np.testing.assert_allclose(image_to_array(depth), SCENE_DEPTH_M)
    rig = transform_to_matrix(messages[topics.TF_STATIC][0].msg.transforms[0].transform)
    np.testing.assert_allclose(rig, make_se3(np.eye(3), [BASELINE_M, 0, 0]), atol=1e-12)
    assert topics.TF not in messages  # a study has no poses unless COLMAP gives them


def test_study_splits_and_stamps_are_in_the_bag_metadata(study_bag: tuple[Path, ImportSummary]) -> None:
    data = custom_data(study_bag[0])
    assert json.loads(data["stereo_nerf.splits"]) == {"train": ["000000.png", "000002.png"], "test": ["000001.png"]}
    assert json.loads(data["stereo_nerf.frames"])["000002.png"] == START_STAMP_NS + 200_000_000
    assert data["stereo_nerf.importer"] == "studies" and data["stereo_nerf.pose_source"] == "none"


def test_study_bag_replays_with_stereo_prior_metrics(study_replay: ReplaySummary) -> None:
    assert study_replay.complete
    assert study_replay.metrics["frames"]["processed"] == 3
    metrics = json.loads((study_replay.out_dir / "metrics.json").read_text())
    tissue = metrics["methods"]["stereo_prior"]["depth"]["tissue"]
    # exact integer disparities: measured abs_rel 0.015, coverage 1.00, median error 0.35 mm (hole-filled prior)
    assert tissue["abs_rel"] < 0.05
    assert tissue["coverage"] > 0.6
    assert tissue["median_abs_error_m"] < 0.002


@pytest.mark.parametrize("encoding", ["png", "npy", "pfm"])
def test_disparity_encodings_become_depth(tmp_path: Path, encoding: str) -> None:
    root = write_study(tmp_path / "exp", frames=1, depth=False, masks=False)
    disparity = np.repeat(ROW_DISPARITY[:, None], WIDTH, axis=1).astype(np.float32)
    disparity[0, 0] = 0.0  # no truth there
    folder = root / "l" / "disparity"
    folder.mkdir(parents=True)
    if encoding == "png":
        write_gray(folder / "000000.png", (disparity * 256).astype(np.uint16))
    elif encoding == "npy":
        np.save(folder / "000000.npy", disparity)
    else:
        assert cv2.imwrite(str(folder / "000000.pfm"), disparity)
    frame = load_studies(root, rectified=RECTIFIED).load(0)
    assert frame.ground_truth_depth is not None
    assert np.isnan(frame.ground_truth_depth[0, 0])
    np.testing.assert_allclose(frame.ground_truth_depth[1:], SCENE_DEPTH_M[1:], rtol=1e-6)


def _raw_rig() -> tuple[StereoCalibration, np.ndarray, np.ndarray]:
    K = np.array([[110.0, 0.0, 81.0], [0.0, 110.0, 62.0], [0.0, 0.0, 1.0]])
    left = PinholeCamera(WIDTH, HEIGHT, K, np.array([-0.08, 0.02, 0.0, 0.0, 0.0]))
    right = PinholeCamera(WIDTH, HEIGHT, K, np.array([-0.07, 0.015, 0.0, 0.0, 0.0]))
    R = rotation_about_axis([0.1, 1.0, 0.05], np.deg2rad(0.8))
    t = R @ np.array([-0.0045, 0.0001, 0.0])
    return StereoCalibration.from_rig(left, right, R, t), R, t


def test_calibration_file_study_keeps_raw_cameras_and_the_rig(tmp_path: Path) -> None:
    calibration, R, t = _raw_rig()
    file = write_stereo_yaml(tmp_path / "calib.yaml", calibration, R, t * 1000.0)
    root = write_study(tmp_path / "exp", frames=1, depth=False, masks=False)
    recording = load_studies(root, calibration_file=file)
    assert recording.left_view is not None and recording.T_left_right is not None
    np.testing.assert_allclose(recording.left_view.camera.D, calibration.left.camera.D)
    np.testing.assert_allclose(recording.left_view.P, calibration.left.P, atol=1e-9)
    # /tf_static from camera_info R and P alone equals the file's rig (x_right = R x_left + t)
    np.testing.assert_allclose(recording.T_left_right, invert_se3(make_se3(R, t)), atol=1e-9)


def test_disparity_on_the_rectified_grid_becomes_raw_depth(tmp_path: Path) -> None:
    calibration, R, t = _raw_rig()
    depth_raw = np.full((HEIGHT, WIDTH), DEPTH_M, np.float32)  # plane z = 5 cm in the raw left frame
    depth_rect = rectify_left_depth(calibration, depth_raw)
    disparity = calibration.disparity_from_depth(np.nan_to_num(depth_rect, nan=0.0))
    back = rectified_depth_to_raw(calibration, calibration.depth_from_disparity(disparity))
    valid = np.isfinite(back)
    assert valid.mean() > 0.9
    np.testing.assert_allclose(back[valid], DEPTH_M, rtol=2e-3)  # nearest-pixel sampling of a tilted plane
    root = write_study(tmp_path / "exp", frames=1, depth=False, masks=False)
    (root / "l" / "disparity").mkdir()
    assert cv2.imwrite(str(root / "l" / "disparity" / "000000.pfm"), disparity)
    frame = load_studies(root, calibration_file=write_stereo_yaml(tmp_path / "c.yaml", calibration, R, t * 1e3)).load(0)
    assert frame.ground_truth_depth is not None
    np.testing.assert_allclose(frame.ground_truth_depth, back, rtol=1e-5)


def test_split_lines_that_name_no_frame_are_errors(tmp_path: Path) -> None:
    root = write_study(tmp_path / "exp", frames=2, depth=False, masks=False)
    (root / "test.txt").write_text("000001\n\n000007.png\n")
    with pytest.raises(ImporterError, match=r"test\.txt:3: '000007.png' names no frame of l/images"):
        load_studies(root, rectified=RECTIFIED)


def test_masks_matched_by_position_when_names_differ(tmp_path: Path) -> None:
    root = write_study(tmp_path / "exp", frames=2, depth=False, masks=False)
    for index in range(2):
        write_gray(root / "mask_l" / f"mask_{index}.png", np.full((HEIGHT, WIDTH), 255 * index, np.uint8))
    recording = load_studies(root, rectified=RECTIFIED)
    masks = [recording.load(index).left_mask for index in range(2)]
    assert masks[0] is not None and masks[1] is not None
    assert not masks[0].any() and masks[1].all()
    write_rgb(root / "mask_l" / "mask_2.png", np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    with pytest.raises(ImporterError, match="3 files whose names match none of the 2 images"):
        load_studies(root, rectified=RECTIFIED)
