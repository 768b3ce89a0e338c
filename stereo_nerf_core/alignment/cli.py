"""The ``align-silhouette`` subcommand: the pose of a known mesh from object masks in one or two views.

``stereo-nerf align-silhouette MESH --mask VIEW0.png [--mask VIEW1.png --relative-pose T.txt]
--K K.txt (or --fx --fy --cx --cy) --out DIR [--init-pose T.txt] [--no-global-search]`` writes into DIR
``pose.txt`` (4x4 ``T_camera_object`` of the first view), ``result.json`` (pose, IoU per view, iterations,
time), ``optimisation.gif`` and ``comparison.png``. Hook it into a CLI with
``add_align_silhouette_parser(subparsers)``; the handler returns the exit code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.alignment.align import align_silhouette
from stereo_nerf_core.alignment.config import AlignmentConfig
from stereo_nerf_core.alignment.errors import AlignmentError
from stereo_nerf_core.alignment.mesh import load_mesh
from stereo_nerf_core.alignment.views import AlignmentView

_EPILOG = """outputs in --out:
  pose.txt           4x4 T_camera_object: object frame -> first view's camera frame (metres)
  result.json        pose, IoU per view (start and result), iterations, refined starts, seconds
  optimisation.gif   observed mask (green) vs rendered silhouette (magenta) every few iterations
  comparison.png     start and result overlays per view

Masks: non-zero pixels are the object. --relative-pose files hold T_view0_viewN, the pose of view N's
camera in view 0's camera frame (rectified stereo, left = view 0: identity rotation, translation
(baseline, 0, 0)). Matrix files are whitespace-separated text. Masks are optimised at most
--max-resolution pixels on the longer side. Errors print one line and exit with status 2."""


def _matrix(path: Path, shape: tuple[int, int], what: str) -> NDArray[np.float64]:
    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as error:
        raise AlignmentError(f"{what} file {path} is missing or not a whitespace-separated matrix: {error}") from error
    if values.size != shape[0] * shape[1]:
        raise AlignmentError(f"{what} file {path} must hold a {shape[0]}x{shape[1]} matrix, got {values.shape}")
    return values.reshape(shape)


def _mask(path: Path) -> NDArray[np.bool_]:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise AlignmentError(f"mask file {path} is missing or not an image")
    if image.ndim == 3:
        image = image[:, :, :3].max(axis=2)
    return np.asarray(image != 0)


def _intrinsics(args: argparse.Namespace) -> NDArray[np.float64]:
    if args.K is not None:
        return _matrix(args.K, (3, 3), "intrinsics (--K)")
    given = [args.fx, args.fy, args.cx, args.cy]
    if any(value is None for value in given):
        raise AlignmentError("give the intrinsics as --K K.txt or all of --fx --fy --cx --cy")
    return np.array([[args.fx, 0.0, args.cx], [0.0, args.fy, args.cy], [0.0, 0.0, 1.0]])


def _align(args: argparse.Namespace) -> int:
    if len(args.relative_pose) != len(args.mask) - 1:
        raise AlignmentError(
            f"--relative-pose is needed once per --mask after the first: got {len(args.mask)} masks and "
            f"{len(args.relative_pose)} relative poses"
        )
    K = _intrinsics(args)
    views = []
    for index, path in enumerate(args.mask):
        mask = _mask(path)
        width, height = args.image_size if args.image_size else (mask.shape[1], mask.shape[0])
        T_ref_view = np.eye(4) if index == 0 else _matrix(args.relative_pose[index - 1], (4, 4), "relative pose")
        views.append(AlignmentView(mask, K, width, height, T_ref_view, name=f"view {index} ({path})"))
    config = AlignmentConfig(
        max_triangles=args.max_triangles,
        max_resolution=args.max_resolution,
        iterations=args.iterations,
        global_search=not args.no_global_search,
        num_threads=args.threads,
    )
    mesh = load_mesh(args.mesh, max_triangles=config.max_triangles, triangle_limit=config.triangle_limit)
    T_init = None if args.init_pose is None else _matrix(args.init_pose, (4, 4), "initial pose")
    result = align_silhouette(mesh, views, config=config, T_init=T_init, device=args.device)
    from stereo_nerf_core.alignment.visualize import write_outputs

    args.out.mkdir(parents=True, exist_ok=True)
    np.savetxt(args.out / "pose.txt", result.T_camera_object, fmt="%.9f")
    summary = {"mesh": str(args.mesh), "triangles": int(mesh.faces.shape[0]), **result.summary()}
    (args.out / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_outputs(result, args.out)
    ious = ", ".join(f"{name} {iou:.3f}" for name, iou in zip(result.view_names, result.iou, strict=True))
    pose = args.out / "pose.txt"
    print(f"pose written to {pose}; IoU {ious}; {result.refined_starts} starts; {result.seconds:.1f} s")
    return 0


def add_align_silhouette_parser(subparsers: argparse._SubParsersAction) -> None:
    """``align-silhouette MESH --mask M.png [--mask M1.png --relative-pose T.txt] --K K.txt --out DIR``."""
    defaults = AlignmentConfig()
    parser = subparsers.add_parser(
        "align-silhouette",
        help="pose of a known mesh from object masks (silhouette alignment)",
        description="Estimate the pose of a mesh (PLY/OBJ) in the first view's camera from binary object "
        "masks in one or more views with known relative poses: global search, then gradient refinement.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mesh", type=Path, metavar="MESH", help="mesh file (.ply or .obj), metres")
    parser.add_argument("--mask", type=Path, action="append", required=True, help="object mask image; repeat per view")
    parser.add_argument(
        "--relative-pose",
        type=Path,
        action="append",
        default=[],
        metavar="T.txt",
        help="4x4 T_view0_viewN per extra --mask, in order",
    )
    parser.add_argument("--K", type=Path, default=None, metavar="K.txt", help="3x3 intrinsics of all masks")
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(f"--{name}", type=float, default=None, metavar="PX", help=f"{name} in pixels (without --K)")
    parser.add_argument(
        "--image-size",
        type=int,
        nargs=2,
        default=None,
        metavar=("W", "H"),
        help="image size the intrinsics belong to (checked against the masks)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--init-pose", type=Path, default=None, metavar="T.txt", help="4x4 start T_camera_object")
    parser.add_argument("--no-global-search", action="store_true", help="refine --init-pose only")
    parser.add_argument("--iterations", type=int, default=defaults.iterations, help="Adam iterations per start")
    parser.add_argument(
        "--max-resolution",
        type=int,
        default=defaults.max_resolution,
        metavar="PX",
        help="longer mask side used for the optimisation",
    )
    parser.add_argument(
        "--max-triangles",
        type=int,
        default=defaults.max_triangles,
        help=f"decimate larger meshes to this (refused above {defaults.triangle_limit} after it)",
    )
    parser.add_argument("--device", default="cpu", help="torch device of the soft rasteriser (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.set_defaults(handler=_align)
