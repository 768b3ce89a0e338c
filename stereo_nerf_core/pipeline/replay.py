"""Offline replay: a bag through the same stages the nodes run, scored against its ground truth.

Stages per synchronised pair: rectification, the dense depth prior (``stereo_prior``), the camera
pose (stereo odometry by default, see :mod:`stereo_nerf_core.pipeline.poses`) and TSDF fusion
(``tsdf_fusion``). Interrupting (Ctrl-C) or a bag that breaks off part-way still
writes every output for the frames processed so far, marked partial.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.eval.specular import specular_mask
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.fusion.tsdf import TsdfFusion
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import bag_topics, read_messages, truncated_mcap_file
from stereo_nerf_core.io.errors import BagError
from stereo_nerf_core.pipeline.errors import ReplayError
from stereo_nerf_core.pipeline.evaluation import DepthScoreboard, EvaluatedFrame
from stereo_nerf_core.pipeline.frames import FrameAssembler, StereoFrame
from stereo_nerf_core.pipeline.outputs import depth_png_path, write_depth_png
from stereo_nerf_core.pipeline.poses import FramePose, PoseSource
from stereo_nerf_core.pipeline.report_writer import write_replay_outputs
from stereo_nerf_core.pipeline.stages import StereoDepthStage
from stereo_nerf_core.pipeline.timing import StageTimer

REQUIRED_TOPICS = (topics.LEFT_IMAGE, topics.RIGHT_IMAGE, topics.LEFT_CAMERA_INFO, topics.RIGHT_CAMERA_INFO)
OPTIONAL_TOPICS = (topics.LEFT_INSTRUMENT_MASK, topics.GROUND_TRUTH_LEFT_DEPTH, topics.GROUND_TRUTH_POSE, topics.TF)


@dataclass
class ReplayState:
    """Everything a replay has computed so far; outputs are written from it, complete or not."""

    bag: Path
    out_dir: Path
    config: PipelineConfig
    timer: StageTimer = field(default_factory=StageTimer)
    calibration: StereoCalibration | None = None
    fusion: TsdfFusion | None = None
    frames: list[EvaluatedFrame] = field(default_factory=list)
    processed: int = 0
    skipped_frames: list[str] = field(default_factory=list)
    interrupted: bool = False
    error: str | None = None
    wall_seconds: float = 0.0
    stream: dict[str, Any] = field(default_factory=dict)
    scoreboard: DepthScoreboard | None = None
    notes: list[str] = field(default_factory=list)
    poses: PoseSource | None = None
    trajectory: list[tuple[int, FramePose]] = field(default_factory=list)


@dataclass(frozen=True)
class ReplaySummary:
    """What :func:`run_replay` hands back to the CLI and the benchmark."""

    out_dir: Path
    metrics: dict[str, Any]
    complete: bool

    def one_line(self) -> str:
        """The closing line printed on the terminal."""
        frames = self.metrics["frames"]
        methods = self.metrics["methods"]
        parts = [
            f"replay {'done' if self.complete else 'PARTIAL'}: {frames['processed']} pairs "
            f"({frames['dropped_left']} left / {frames['dropped_right']} right dropped) "
            f"in {self.metrics['wall_seconds']:.1f} s"
        ]
        for name, method in methods.items():
            tissue = method.get("depth", {}).get("tissue") or {}
            if tissue.get("abs_rel") is not None:
                parts.append(f"{name} tissue abs_rel {tissue['abs_rel']:.4f} cov {100 * tissue['coverage']:.0f}%")
            surface = method.get("surface")
            if surface and surface.get("accuracy_median_m") is not None:
                parts.append(f"{name} surface median {1000 * surface['accuracy_median_m']:.2f} mm")
        return " | ".join(parts) + f" -> {self.out_dir}"


def check_bag(bag: Path) -> dict[str, str]:
    """Topic -> type of a bag that has every required topic; :class:`ReplayError` names what is missing."""
    summary = bag_topics(bag)
    missing = [topic for topic in REQUIRED_TOPICS if summary.get(topic) is None or summary[topic].count == 0]
    if missing:
        raise ReplayError(f"{bag}: bag has no messages on required topic(s) {', '.join(missing)}")
    return {topic: item.msgtype for topic, item in summary.items()}


def run_replay(
    bag: Path | str,
    config: PipelineConfig,
    out_dir: Path | str,
    *,
    progress: bool = True,
    max_frames: int | None = None,
) -> ReplaySummary:
    """Replay ``bag`` into ``out_dir`` and return the metrics written to ``metrics.json``."""
    state = ReplayState(
        Path(bag), Path(out_dir), config, scoreboard=DepthScoreboard(config.evaluation), poses=PoseSource(config)
    )
    available = check_bag(state.bag)
    truncated = truncated_mcap_file(state.bag)
    if truncated is not None:
        state.notes.append(
            f"{truncated.name} was cut off (no mcap footer): replayed the complete messages before the cut."
        )
    counts = {topic: item.count for topic, item in bag_topics(state.bag).items()}
    state.out_dir.mkdir(parents=True, exist_ok=True)
    stage = StereoDepthStage(config.depth_prior)
    assembler = FrameAssembler(config.sync)
    wanted = [topic for topic in (*REQUIRED_TOPICS, *OPTIONAL_TOPICS) if topic in available]
    total = min(counts[topics.LEFT_IMAGE], counts[topics.RIGHT_IMAGE])
    if max_frames is not None:
        total = min(total, max_frames)
    bar = tqdm(total=total, unit="pair", desc="replay", disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    try:
        for frame in assembler.frames_from(read_messages(state.bag, wanted)):
            if max_frames is not None and state.processed >= max_frames:
                break
            _process(state, stage, frame)
            bar.update(1)
    except KeyboardInterrupt:
        state.interrupted = True
    except BagError as error:
        state.error = str(error)
    finally:
        bar.close()
        state.wall_seconds = time.perf_counter() - start
        state.stream = {**assembler.sync.stats.as_dict(), "skipped_messages": assembler.report.skipped}
        state.skipped_frames.extend(assembler.report.problems)
    metrics = write_replay_outputs(state)
    return ReplaySummary(state.out_dir, metrics, complete=not state.interrupted and state.error is None)


def _process(state: ReplayState, stage: StereoDepthStage, frame: StereoFrame) -> None:
    timer = state.timer
    assert state.poses is not None
    try:
        with timer.stage("rectify"):
            calibration, left, right = stage.rectify(frame.left.rgb, frame.right.rgb, frame.left.view, frame.right.view)
        with timer.stage("depth_prior"):
            prior = stage.estimate_prior(left, right, calibration)
    except FrontendError as error:
        state.skipped_frames.append(f"frame {frame.index} @ {frame.stamp_ns}: {error}")
        return
    state.calibration = calibration
    state.processed += 1
    with timer.stage("write_depth"):
        write_depth_png(depth_png_path(state.out_dir, frame.index, frame.stamp_ns), prior.depth)
    instrument = np.zeros(prior.depth.shape, bool)
    if frame.instrument_mask is not None:
        instrument = calibration.rectify_left_nearest(frame.instrument_mask.astype(np.uint8)) > 0
    with timer.stage("tracking"):
        pose = state.poses.pose(frame, calibration, left, prior, instrument)
    state.trajectory.append((frame.stamp_ns, pose))
    T_world_camera = pose.T_world_camera
    if T_world_camera is not None:
        with timer.stage("fusion"):
            if state.fusion is None:
                state.fusion = TsdfFusion(state.config.fusion, calibration.K_rect, calibration.size)
            depth = prior.without_filled().depth if state.config.fusion.matched_only else prior.depth
            fused = np.where(instrument, 0, depth) if state.config.fusion.mask_instruments else depth
            state.fusion.integrate(left, fused.astype(np.float32), T_world_camera)
    if frame.ground_truth_depth is not None:
        with timer.stage("evaluation"):
            tissue = ~instrument & ~specular_mask(left)
            ground_truth = rectify_left_depth(calibration, frame.ground_truth_depth)
            evaluated = EvaluatedFrame(
                frame.index, frame.stamp_ns, left, ground_truth, tissue, T_world_camera, pose.T_world_camera_truth
            )
            evaluated.predictions["stereo_prior"] = prior.depth
            state.frames.append(evaluated)
            assert state.scoreboard is not None
            state.scoreboard.add("stereo_prior", prior.depth, evaluated)
