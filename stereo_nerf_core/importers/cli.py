"""The ``import`` subcommand: ``stereo-nerf import FORMAT SOURCE OUT_BAG [options]``.

Hook it into a CLI with ``add_import_parser(subparsers)``; :func:`run_import` is the library entry
point behind it (unknown formats and options a format does not use are :class:`ImporterError`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from stereo_nerf_core.importers.calibration import RectifiedPair
from stereo_nerf_core.importers.colmap import with_colmap_poses
from stereo_nerf_core.importers.dtu import WORLDS, load_dtu
from stereo_nerf_core.importers.endonerf import DEFAULT_DEPTH_SCALE, POSE_CONVENTIONS, load_endonerf
from stereo_nerf_core.importers.errors import ImporterError
from stereo_nerf_core.importers.scared import load_scared
from stereo_nerf_core.importers.studies import load_studies
from stereo_nerf_core.importers.video import load_video
from stereo_nerf_core.importers.writer import DEFAULT_FPS, ImportOptions, ImportSummary, Recording, write_recording


@dataclass(frozen=True)
class FormatSpec:
    """How one format is read and which format options (argparse ``dest`` names) it takes."""

    read: Callable[[Path, dict[str, Any]], Recording]
    options: tuple[str, ...]
    help: str


def _studies(source: Path, o: dict[str, Any]) -> Recording:
    rectified = None
    if o.get("rectified"):
        if o.get("fx") is None or o.get("baseline_m") is None:
            raise ImporterError("--rectified needs --fx PX and --baseline-m M (and optionally --cx, --cy, --fy)")
        rectified = RectifiedPair(o["fx"], o["baseline_m"], o.get("cx"), o.get("cy"), o.get("fy"))
    elif any(o.get(name) is not None for name in ("fx", "baseline_m", "cx", "cy", "fy")):
        raise ImporterError("--fx / --baseline-m / --cx / --cy / --fy describe a rectified pair: add --rectified")
    return load_studies(source, calibration_file=o.get("calibration"), rectified=rectified, alpha=o.get("alpha") or 0.0)


def _endonerf(source: Path, o: dict[str, Any]) -> Recording:
    return load_endonerf(
        source,
        depth_scale=o.get("depth_scale") or DEFAULT_DEPTH_SCALE,
        invert_masks=bool(o.get("invert_masks")),
        pose_convention=o.get("pose_convention") or "opengl",
    )


def _scared(source: Path, o: dict[str, Any]) -> Recording:
    return load_scared(
        source,
        left=o.get("left"),
        right=o.get("right"),
        calibration_file=o.get("calibration"),
        left_range_map=o.get("left_range_map"),
        left_point_map=o.get("left_point_map"),
        alpha=o.get("alpha") or 0.0,
    )


def _video(source: Path, o: dict[str, Any]) -> Recording:
    if o.get("fx") is None:
        raise ImporterError("format 'video' needs --fx (focal length in pixels)")
    return load_video(source, fx=o["fx"], cx=o.get("cx"), cy=o.get("cy"), poses_bounds=o.get("poses_bounds"))


def _dtu(source: Path, o: dict[str, Any]) -> Recording:
    return load_dtu(source, world=o.get("world") or "metric")


FORMATS: dict[str, FormatSpec] = {
    "studies": FormatSpec(
        _studies,
        ("calibration", "rectified", "fx", "fy", "cx", "cy", "baseline_m", "alpha"),
        "our studies: <exp>/l/images, <exp>/r/images, optional truth, masks and train/test lists",
    ),
    "endonerf": FormatSpec(
        _endonerf,
        ("depth_scale", "invert_masks", "pose_convention"),
        "EndoNeRF: images/, depth/, masks/, poses_bounds.npy (left only)",
    ),
    "scared": FormatSpec(
        _scared,
        ("left", "right", "calibration", "left_range_map", "left_point_map", "alpha"),
        "a SCARED keyframe (raw pair, calibration, structured-light truth)",
    ),
    "dtu": FormatSpec(_dtu, ("world",), "a DTU scan in the IDR/MonoSDF format (left only, poses)"),
    "video": FormatSpec(
        _video, ("fx", "cx", "cy", "poses_bounds"), "a monocular video file (left only; identity poses unless given)"
    ),
}
FORMAT_OPTIONS = sorted({name for spec in FORMATS.values() for name in spec.options})


def run_import(
    format_name: str,
    source: Path | str,
    out_bag: Path | str,
    options: ImportOptions,
    *,
    poses_from_colmap: Path | str | None = None,
    fps_given: bool = True,
    **format_options: Any,
) -> ImportSummary:
    """Import ``source`` (in format ``format_name``) into the new bag ``out_bag``.

    ``format_options`` are the format's own options (argparse ``dest`` names, e.g. ``calibration``,
    ``rectified``, ``depth_scale``); None means "not given". Without ``fps_given`` a source with its own frame
    rate (a video) is stamped at that rate instead of ``options.fps``.
    """
    spec = FORMATS.get(format_name)
    if spec is None:
        raise ImporterError(f"unknown import format {format_name!r}: use one of {', '.join(sorted(FORMATS))}")
    given = {name: value for name, value in format_options.items() if value is not None and value is not False}
    unknown = sorted(set(given) - set(FORMAT_OPTIONS))
    if unknown:
        raise ImporterError(f"unknown import option(s) {', '.join(unknown)}")
    foreign = sorted(set(given) - set(spec.options))
    if foreign:
        flags = ", ".join("--" + name.replace("_", "-") for name in foreign)
        raise ImporterError(f"{flags} do(es) not apply to format {format_name!r}")
    started = time.perf_counter()
    out = Path(out_bag)
    if out.exists() or out.is_symlink():
        raise ImporterError(f"{out} exists already; bags are never overwritten")
    recording = spec.read(Path(source), given)
    if not fps_given and recording.frame_rate_hz is not None:
        options = replace(options, fps=recording.frame_rate_hz)
    if poses_from_colmap is not None:
        recording = with_colmap_poses(recording, Path(poses_from_colmap))
    summary = write_recording(recording, out, options)
    return replace(summary, seconds=time.perf_counter() - started)


def _handle(args: argparse.Namespace) -> int:
    fps = DEFAULT_FPS if args.fps is None else args.fps
    options = ImportOptions(fps=fps, storage=args.storage, compression=args.compression, progress=not args.quiet)
    format_options = {name: getattr(args, name) for name in FORMAT_OPTIONS}
    summary = run_import(
        args.format, args.source, args.out_bag, options, poses_from_colmap=args.poses_from_colmap,
        fps_given=args.fps is not None, **format_options,
    )
    print(summary.one_line())
    return 0


def add_import_parser(subparsers: argparse._SubParsersAction) -> None:
    """``import FORMAT SOURCE OUT_BAG [options]``; ``args.handler(args)`` runs it and returns an exit code."""
    formats = "; ".join(f"{name}: {spec.help}" for name, spec in FORMATS.items())
    parser = subparsers.add_parser(
        "import",
        help="turn another dataset format into a ROS 2 bag with our topic names",
        description=f"Import a dataset folder into a new rosbag2 folder (never overwritten). Formats: {formats}.",
    )
    parser.add_argument("format", metavar="FORMAT", help=f"one of {', '.join(FORMATS)}")
    parser.add_argument("source", type=Path, metavar="SOURCE", help="the dataset folder")
    parser.add_argument("out_bag", type=Path, metavar="OUT_BAG", help="bag folder to create (must not exist)")
    common = parser.add_argument_group("every format")
    common.add_argument(
        "--fps", type=float, help="frame rate of the stamps in Hz (default: a video's own rate, else 10)"
    )
    common.add_argument("--storage", choices=["mcap", "sqlite3"], default="mcap", help="bag storage plugin")
    common.add_argument("--compression", choices=["none", "zstd"], default="none", help="bag compression")
    common.add_argument("--poses-from-colmap", type=Path, metavar="DIR", help="COLMAP reconstruction as pose source")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    calibrated = parser.add_argument_group("studies and scared")
    calibrated.add_argument(
        "--calibration", type=Path, metavar="FILE", help="OpenCV stereo YAML/JSON (K1 D1 K2 D2 R T)"
    )
    calibrated.add_argument("--alpha", type=float, help="rectification free scaling (cv2.stereoRectify, default 0)")
    studies = parser.add_argument_group("studies (already-rectified pairs instead of --calibration) and video")
    studies.add_argument("--rectified", action="store_true", help="the images are rectified (R = I, no distortion)")
    studies.add_argument("--fx", type=float, help="(rectified) focal length in pixels")
    studies.add_argument("--fy", type=float, help="vertical focal length in pixels (default fx)")
    studies.add_argument("--cx", type=float, help="principal point x in pixels (default (W-1)/2)")
    studies.add_argument("--cy", type=float, help="principal point y in pixels (default (H-1)/2)")
    studies.add_argument("--baseline-m", type=float, help="baseline in metres")
    scared = parser.add_argument_group("scared: files named explicitly (relative names: as given, else in SOURCE)")
    scared.add_argument("--left", type=Path, help="left raw image (default Left_Image.png)")
    scared.add_argument("--right", type=Path, help="right raw image (default Right_Image.png)")
    scared.add_argument("--left-range-map", type=Path, help="uint16 PNG, value / 256 = range in mm, left raw grid")
    scared.add_argument("--left-point-map", type=Path, help="3-channel XYZ tiff in mm (default left_depth_map.tiff)")
    endonerf = parser.add_argument_group("endonerf")
    endonerf.add_argument(
        "--depth-scale", type=float, help=f"depth PNG values per metre (default {DEFAULT_DEPTH_SCALE:g}: millimetres)"
    )
    endonerf.add_argument("--invert-masks", action="store_true", help="masks hold 0 on tools (default: 255 = tool)")
    endonerf.add_argument(
        "--pose-convention",
        choices=POSE_CONVENTIONS,
        help="poses_bounds.npy axes (default opengl, as EndoNeRF's own loader reads them)",
    )
    video = parser.add_argument_group("video")
    video.add_argument(
        "--poses-bounds", type=Path, metavar="FILE", help="LLFF poses_bounds.npy, one row per frame (default identity)"
    )
    dtu = parser.add_argument_group("dtu")
    dtu.add_argument(
        "--world", choices=WORLDS, help="metric (DTU world in metres, default) or normalised (unit sphere)"
    )
    parser.set_defaults(handler=_handle)
