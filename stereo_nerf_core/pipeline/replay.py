"""Offline replay: a bag through the same stages the nodes run, every method scored against its ground truth.

Stages per synchronised pair: rectification, the dense depth prior, the camera pose (stereo odometry
by default, see :mod:`stereo_nerf_core.spine.poses`), then each method of ``replay.methods``
(:mod:`stereo_nerf_core.pipeline.methods`) takes the frame. Every ``replay.held_out_every``-th frame
(or the bag's test list) is held out from fusion and training and rendered as a novel view. Every
``replay.timeline_every`` frames the methods catch up (training) and are scored on a few frames
(metrics over time). As fast as possible by default; ``rate`` plays at the recorded rate and drops
what a busy pipeline would (:mod:`stereo_nerf_core.pipeline.pacing`). Interrupting (Ctrl-C) or a bag
that breaks off part-way still writes every output for the frames processed so far, marked partial.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from stereo_nerf_core.config import PipelineConfig
from stereo_nerf_core.eval.specular import specular_mask
from stereo_nerf_core.frontend.errors import FrontendError
from stereo_nerf_core.geometry.camera import StereoCalibration
from stereo_nerf_core.geometry.depth_maps import rectify_left_depth
from stereo_nerf_core.io import topics
from stereo_nerf_core.io.bag import bag_duration_s, bag_topics, truncated_mcap_file
from stereo_nerf_core.io.errors import BagError
from stereo_nerf_core.pipeline.errors import ReplayError
from stereo_nerf_core.pipeline.evaluation import DepthScoreboard, EvaluatedFrame
from stereo_nerf_core.pipeline.methods import FrameInput, ReplayMethod, make_methods
from stereo_nerf_core.pipeline.outputs import depth_png_path, write_depth_png
from stereo_nerf_core.pipeline.pacing import paced
from stereo_nerf_core.pipeline.report_writer import write_replay_outputs
from stereo_nerf_core.pipeline.scoring import timeline_point
from stereo_nerf_core.pipeline.splits import held_out_stamps
from stereo_nerf_core.pipeline.timing import StageTimer, peak_memory
from stereo_nerf_core.spine.frames import FrameAssembler, StereoFrame, is_monocular
from stereo_nerf_core.spine.poses import FramePose, PoseSource
from stereo_nerf_core.spine.stages import MonocularStage, StereoDepthStage

REQUIRED_TOPICS = (topics.LEFT_IMAGE, topics.RIGHT_IMAGE, topics.LEFT_CAMERA_INFO, topics.RIGHT_CAMERA_INFO)
"""What a stereo bag needs; a monocular one (no right image) needs only the left image and its camera_info."""
PRIOR_METHODS = ("stereo_prior", "tsdf_fusion")
"""Methods that are made of the depth prior: left out of a monocular replay whose bag carries no depth prior."""


@dataclass
class ReplayState:
    """Everything a replay has computed so far; outputs are written from it, complete or not."""

    bag: Path
    out_dir: Path
    config: PipelineConfig
    timer: StageTimer = field(default_factory=StageTimer)
    calibration: StereoCalibration | None = None
    methods: list[ReplayMethod] = field(default_factory=list)
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
    total: int = 0
    """Pairs the replay expects (for progress and the training schedule)."""
    held_out_stamps: set[int] | None = None
    """Stamps of the bag's test list; None: every ``replay.held_out_every``-th frame is held out."""
    rate: float | None = None
    dropped_by_rate: list[int] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    progress: bool = False
    """Show progress on stderr (the bar, then one line per finishing step)."""


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
            f"({frames['dropped_left']} left / {frames['dropped_right']} right dropped"
            + (f", {frames['dropped_by_rate']} by the rate" if frames.get("dropped_by_rate") else "")
            + f") in {self.metrics['wall_seconds']:.1f} s"
        ]
        for name, method in methods.items():
            tissue = (method.get("depth") or {}).get("tissue") or {}
            text = name
            if tissue.get("abs_rel") is not None:
                text += f" tissue abs_rel {tissue['abs_rel']:.4f} cov {100 * tissue['coverage']:.0f}%"
            held = ((method.get("novel_views") or {}).get("held_out") or {}).get("no_instruments") or {}
            if held.get("psnr_db") is not None:
                text += f" held-out PSNR {held['psnr_db']:.1f} dB"
            surface = method.get("surface")
            if surface and surface.get("accuracy_median_m") is not None:
                text += f" surface median {1000 * surface['accuracy_median_m']:.2f} mm"
            if text != name:
                parts.append(text)
        return " | ".join(parts) + f" -> {self.out_dir}"


def check_bag(bag: Path) -> dict[str, str]:
    """Topic -> type of a bag that has every required topic (a monocular bag: the left ones);
    :class:`ReplayError` names what is missing."""
    summary = bag_topics(bag)
    required = REQUIRED_TOPICS[::2] if is_monocular(bag) else REQUIRED_TOPICS
    missing = [topic for topic in required if summary.get(topic) is None or summary[topic].count == 0]
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
    rate: float | None = None,
) -> ReplaySummary:
    """Replay ``bag`` into ``out_dir`` and return the metrics written to ``metrics.json``.

    ``rate``: None replays as fast as possible; 1.0 at the recorded rate (2.0 twice as fast), dropping
    the frames a pipeline this slow would miss.
    """
    state = ReplayState(
        Path(bag), Path(out_dir), config, scoreboard=DepthScoreboard(config.evaluation), poses=PoseSource(config)
    )
    config = _time_span_of_the_bag(config, Path(bag))
    state.config = config
    state.methods = make_methods(config, state.timer)  # an unknown method name fails before anything runs
    state.rate, state.progress = rate, progress
    check_bag(state.bag)  # names a missing required topic before anything runs
    truncated = truncated_mcap_file(state.bag)
    if truncated is not None:
        state.notes.append(
            f"{truncated.name} was cut off (no mcap footer): replayed the complete messages before the cut."
        )
    state.held_out_stamps = held_out_stamps(state.bag)
    counts = {topic: item.count for topic, item in bag_topics(state.bag).items()}
    state.out_dir.mkdir(parents=True, exist_ok=True)
    stage: StereoDepthStage | MonocularStage = StereoDepthStage(config.depth_prior)
    monocular = is_monocular(state.bag)
    assembler = FrameAssembler(config.sync, tracking=config.tracking, monocular=monocular)
    state.total = min(counts[topics.LEFT_IMAGE], counts.get(topics.RIGHT_IMAGE, 0))
    if monocular:
        stage, state.total = MonocularStage(), counts[topics.LEFT_IMAGE]
        _monocular_methods(state, with_prior=counts.get(topics.LEFT_DEPTH_PRIOR, 0) > 0)
    if max_frames is not None:
        state.total = min(state.total, max_frames)
    bar = tqdm(total=state.total, unit="pair", desc="replay", disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    try:
        frames: Iterator[StereoFrame] = assembler.frames_from_bag(state.bag, max_frames=max_frames)
        if rate is not None:
            frames = paced(frames, rate, state.dropped_by_rate)
        for frame in frames:
            _process(state, stage, frame)
            bar.n = frame.index + 1
            bar.set_postfix_str(f"dropped {len(state.dropped_by_rate)}" if rate is not None else "", refresh=False)
            bar.update(0)
            every = config.replay.timeline_every
            if every and state.processed % every == 0 and frame.index + 1 < state.total:
                _checkpoint(state, (frame.index + 1) / state.total, bar)
    except KeyboardInterrupt:
        state.interrupted = True
    except BagError as error:
        state.error = str(error)
    finally:
        bar.close()
        state.stream = {**assembler.sync.stats.as_dict(), "skipped_messages": assembler.report.skipped}
        state.skipped_frames.extend(assembler.report.problems)
    if not state.interrupted:
        try:
            _checkpoint(state, 1.0, None, progress_lines=progress)
        except KeyboardInterrupt:
            state.interrupted = True
    state.wall_seconds = time.perf_counter() - start
    identity = state.poses.identity if state.poses is not None else 0
    if identity:
        state.notes.append(f"{identity} monocular frames had no pose on /tf: the identity (a static camera).")
    try:
        metrics = write_replay_outputs(state)
    finally:
        for method in state.methods:
            method.close()
    return ReplaySummary(state.out_dir, metrics, complete=not state.interrupted and state.error is None)


def _checkpoint(state: ReplayState, progress: float, bar: tqdm | None, *, progress_lines: bool = False) -> None:
    """Let every method catch up to ``progress`` of the stream, then add a metrics-over-time point."""
    if state.calibration is None:
        return
    for method in state.methods:
        if bar is not None:
            bar.set_postfix_str(f"{method.name} catching up", refresh=True)
        elif progress_lines:
            print(f"replay: finishing {method.name} ...", file=sys.stderr, flush=True)
        method.advance(progress)
        method.memory = peak_memory()
    with state.timer.stage("timeline"):
        K, size = state.calibration.K_rect, state.calibration.size
        state.timeline.append(timeline_point(state.methods, state.frames, K, size, state.config.evaluation))


def _time_span_of_the_bag(config: PipelineConfig, bag: Path) -> PipelineConfig:
    """``trainer.time_span_s`` 0 means the recording's own duration (deformable models cover the whole bag)."""
    if config.trainer.time_span_s > 0:
        return config
    try:
        duration = bag_duration_s(bag)
    except BagError:
        return config  # check_bag names the problem next
    if not duration:
        return config
    return replace(config, trainer=replace(config.trainer, time_span_s=duration))


def _held_out(state: ReplayState, frame: StereoFrame) -> bool:
    if state.held_out_stamps is not None:
        return frame.stamp_ns in state.held_out_stamps
    every = state.config.replay.held_out_every
    return every > 0 and frame.index % every == 0


def _monocular_methods(state: ReplayState, *, with_prior: bool) -> None:
    """A monocular bag: no stereo prior, fusion or odometry; the trainer methods train photometrically, with a
    depth loss where the bag carries a depth prior (then the prior's methods run on it)."""
    source = f"its {topics.LEFT_DEPTH_PRIOR} as the prior" if with_prior else "no depth prior (photometric training)"
    state.notes.append(
        f"Monocular recording (no {topics.RIGHT_IMAGE}): no stereo matching, fusion of stereo depth or stereo "
        f"odometry; {source}; poses from /tf, else the identity."
    )
    if not with_prior:
        left_out = [method.name for method in state.methods if method.name in PRIOR_METHODS]
        state.methods = [method for method in state.methods if method.name not in PRIOR_METHODS]
        if left_out:
            state.notes.append(f"Left out without a depth prior: {', '.join(left_out)}.")


def _process(state: ReplayState, stage: StereoDepthStage | MonocularStage, frame: StereoFrame) -> None:
    timer = state.timer
    assert state.poses is not None
    right = None
    try:
        if isinstance(stage, MonocularStage):
            with timer.stage("rectify"):
                calibration, left, prior = stage.process(frame)
        else:
            with timer.stage("rectify"):
                calibration, left, right = stage.rectify_frame(frame)
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
    with timer.stage("evaluation"):
        tissue = ~instrument & ~specular_mask(left)
        ground_truth = None
        if frame.ground_truth_depth is not None:
            ground_truth = rectify_left_depth(calibration, frame.ground_truth_depth)
    evaluated = EvaluatedFrame(
        frame.index,
        frame.stamp_ns,
        left,
        ground_truth,
        tissue,
        pose.T_world_camera,
        pose.T_world_camera_truth,
        instrument=instrument,
        held_out=_held_out(state, frame),
    )
    state.frames.append(evaluated)
    item = FrameInput(evaluated, calibration, right, prior)
    for method in state.methods:
        method.add_frame(item)
