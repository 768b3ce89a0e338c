"""Speed and accuracy of silhouette alignment on the synthetic test object (CPU or CUDA).

Usage: python benchmarks/silhouette_alignment.py [--sizes 64 128 256] [--repeats 20] [--threads N]
       [--device cpu] [--seeds 3] [--endoscope-poses 4] [--skip-accuracy]

Prints, per image size and triangle count (test object with 1, 2 or 3 subdivisions: 112, 352 and
1312 triangles), the time of one soft-rasteriser iteration (soft silhouette + soft IoU loss +
backward) at the start softness (6 px, rendered at half resolution as in the refinement), at the
final softness (0.5 px), and for the SoftRas-style variant at 0.5 px; the ray-cast rate of the hard
rasteriser; and end-to-end alignment times and pose errors: refinement from 30 degrees / 20 % off with
one view and with a stereo pair (5 mm baseline) or a second camera 40 degrees around the object, and
the global search from a start rolled 90 degrees; then random poses seen by a 640x512 endoscope camera,
aligned from scratch (global search) at max_resolution 128 and 256, with one view and a stereo pair.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from numpy.typing import NDArray

from stereo_nerf_core.alignment import (
    AlignmentConfig,
    AlignmentView,
    Mesh,
    SilhouetteRenderer,
    align_silhouette,
    pose_errors,
    soft_iou_loss,
)
from stereo_nerf_core.alignment.synthetic import asymmetric_test_mesh, render_masks
from stereo_nerf_core.geometry import make_se3, rotation_about_axis

Float = NDArray[np.float64]


def _K(size: int) -> Float:
    f, c = 120.0 * size / 128.0, (size - 1) / 2.0
    return np.array([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]])


def _true_pose(mesh: Mesh) -> Float:
    R = rotation_about_axis([0.3, 1.0, 0.2], 0.7)
    return make_se3(R, np.array([0.002, -0.001, 0.07]) - R @ mesh.centre)


def _iteration_ms(renderer: SilhouetteRenderer, T: Float, size: int, sigma: float, method: str, repeats: int) -> float:
    K = _K(size)
    target = torch.as_tensor(renderer.hard(T, K, size, size), dtype=renderer.dtype, device=renderer.device)
    pose = torch.as_tensor(T, dtype=renderer.dtype, device=renderer.device).requires_grad_(True)
    times = []
    for _ in range(repeats + 2):
        started = time.perf_counter()
        soft = renderer.soft(pose, K, size, size, sigma_px=sigma, rasterizer=method)  # type: ignore[arg-type]
        soft_iou_loss(soft, target).backward()
        if renderer.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times[2:])


def rasterizer_speed(sizes: list[int], repeats: int, device: str) -> None:
    print("soft rasteriser, one iteration (silhouette + loss + backward), median ms:")
    print(f"{'size':>6} {'triangles':>9} {'contour 6px@1/2':>16} {'contour 0.5px':>14} {'softras 0.5px':>14}")
    for subdivisions in (1, 2, 3):
        mesh = asymmetric_test_mesh(subdivisions=subdivisions)
        renderer = SilhouetteRenderer(mesh, device=device)
        T = _true_pose(mesh)
        for size in sizes:
            coarse = _iteration_ms(renderer, T, size // 2, 3.0, "contour", repeats)
            fine = _iteration_ms(renderer, T, size, 0.5, "contour", repeats)
            softras = _iteration_ms(renderer, T, size, 0.5, "softras", repeats)
            print(f"{size:>6} {mesh.faces.shape[0]:>9} {coarse:>16.2f} {fine:>14.2f} {softras:>14.2f}")
    mesh = asymmetric_test_mesh()
    renderer = SilhouetteRenderer(mesh)
    poses = np.repeat(_true_pose(mesh)[None], 500, axis=0)
    started = time.perf_counter()
    renderer.hard(poses, _K(48), 48, 48)
    rate = 500 * 48 * 48 / (time.perf_counter() - started)
    print(f"hard rasteriser (open3d ray casting): {rate / 1e6:.1f} M rays/s")


def _perturbed(T: Float, centre: Float, seed: int) -> Float:
    rng = np.random.default_rng(seed)
    R = rotation_about_axis(rng.normal(size=3), np.radians(30.0)) @ T[:3, :3]
    position = T[:3, :3] @ centre + T[:3, 3]
    direction = rng.normal(size=3)
    moved = position + direction / np.linalg.norm(direction) * 0.2 * np.linalg.norm(position)
    return make_se3(R, moved - R @ centre)


def _view(mesh: Mesh, T_true: Float, size: int, T_ref_view: Float, name: str) -> AlignmentView:
    mask = render_masks(mesh, np.linalg.inv(T_ref_view) @ T_true, _K(size), size, size)
    return AlignmentView(mask, _K(size), size, size, T_ref_view, name=name)


def accuracy(sizes: list[int], seeds: int, device: str) -> None:
    mesh = asymmetric_test_mesh()
    T_true = _true_pose(mesh)
    centre = T_true[:3, :3] @ mesh.centre + T_true[:3, 3]
    turn = make_se3(rotation_about_axis([0.0, 1.0, 0.0], np.radians(40.0)), [0.0, 0.0, 0.0])
    seconds = {
        "stereo 5 mm": make_se3(np.eye(3), [0.005, 0.0, 0.0]),
        "orbit 40 deg": make_se3(np.eye(3), centre) @ turn @ make_se3(np.eye(3), -centre),
    }
    refine = AlignmentConfig(global_search=False, gif_every=0)
    print(f"\nrefinement from 30 deg / 20 % off ({refine.iterations} iterations), mean over {seeds} starts:")
    for size in [s for s in sizes if s <= 128]:
        reference = _view(mesh, T_true, size, np.eye(4), "reference")
        setups = {"1 view": [reference]}
        for label, T_ref_view in seconds.items():
            setups[f"2 views, {label}"] = [reference, _view(mesh, T_true, size, T_ref_view, label)]
        for key, views in setups.items():
            values = []
            for seed in range(seeds):
                start = _perturbed(T_true, mesh.centre, seed)
                result = align_silhouette(mesh, views, config=refine, T_init=start, device=device)
                values.append((*pose_errors(result.T_camera_object, T_true, centre=mesh.centre), result.seconds))
            rotation, translation, wall = np.mean(values, axis=0)
            print(f"  {size:>4} px  {key:<24} {rotation:6.2f} deg  {100 * translation:5.2f} %  {wall:5.1f} s")
    size = 96
    R_far = rotation_about_axis([0.0, 0.0, 1.0], np.radians(90.0)) @ T_true[:3, :3]
    far = make_se3(R_far, T_true[:3, :3] @ mesh.centre + T_true[:3, 3] - R_far @ mesh.centre)
    view = _view(mesh, T_true, size, np.eye(4), "reference")
    print(f"\nstart rolled 90 deg, {size} px, one view:")
    for label, config in (("refinement only", refine), ("global search, top 3", AlignmentConfig(gif_every=0))):
        result = align_silhouette(mesh, [view], config=config, T_init=far, device=device)
        rotation, translation = pose_errors(result.T_camera_object, T_true, centre=mesh.centre)
        print(
            f"  {label:<22} {rotation:7.2f} deg  {100 * translation:5.2f} %  IoU {result.iou[0]:.3f}  "
            f"{result.refined_starts} starts  {result.seconds:5.1f} s"
        )


def endoscope(poses: int, device: str) -> None:
    """Random poses of the object 8 cm in front of a 640x512 endoscope camera (f 518 px), global search."""
    mesh = asymmetric_test_mesh()
    K = np.array([[518.0, 0.0, 319.5], [0.0, 518.0, 255.5], [0.0, 0.0, 1.0]])
    right = make_se3(np.eye(3), [0.0041, 0.0, 0.0])
    print(f"\n640x512 endoscope camera, object 8 cm away, {poses} random poses, global search from scratch:")
    for max_resolution in (128, 256):
        for label in ("1 view", "stereo 4.1 mm"):
            rng = np.random.default_rng(5)
            values = []
            for _ in range(poses):
                R = rotation_about_axis(rng.normal(size=3), rng.uniform(0.0, np.pi))
                offset = np.array([rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01), 0.08])
                T_true = make_se3(R, offset - R @ mesh.centre)
                views = [AlignmentView(render_masks(mesh, T_true, K, 640, 512), K, 640, 512, name="left")]
                if label != "1 view":
                    mask = render_masks(mesh, np.linalg.inv(right) @ T_true, K, 640, 512)
                    views.append(AlignmentView(mask, K, 640, 512, right, name="right"))
                config = AlignmentConfig(gif_every=0, max_resolution=max_resolution)
                result = align_silhouette(mesh, views, config=config, device=device)
                values.append((*pose_errors(result.T_camera_object, T_true, centre=mesh.centre), result.seconds))
            table = np.array(values)
            print(
                f"  max_resolution {max_resolution:>3}  {label:<14} rotation median {np.median(table[:, 0]):5.2f} "
                f"max {table[:, 0].max():5.2f} deg  translation median {100 * np.median(table[:, 1]):5.2f} "
                f"max {100 * table[:, 1].max():5.2f} %  {table[:, 2].mean():5.1f} s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256], help="square image sizes in px")
    parser.add_argument("--repeats", type=int, default=20, help="timed iterations per configuration")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="torch device of the soft rasteriser")
    parser.add_argument("--seeds", type=int, default=3, help="perturbed starts per accuracy row")
    parser.add_argument("--endoscope-poses", type=int, default=4, help="random poses of the 640x512 case (0: skip)")
    parser.add_argument("--skip-accuracy", action="store_true", help="only the rasteriser timings")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {args.device}")
    rasterizer_speed(args.sizes, args.repeats, args.device)
    if not args.skip_accuracy:
        accuracy(args.sizes, args.seeds, args.device)
        if args.endoscope_poses:
            endoscope(args.endoscope_poses, args.device)


if __name__ == "__main__":
    main()
