"""Novel views on real multi-view images: NeRF and NeuS-SDF training on DTU scan24, scored on held-out views.

Usage: python benchmarks/dtu_novel_views.py OUT [--size 192] [--budget-s 600] [--sdf-budget-s S] [--modes nerf sdf]

Every 8th view (0, 8, ..., 48) is held out; the others train one trainer per mode on the CPU (or
CUDA when torch has it) for ``--budget-s`` seconds each, in the normalised unit-sphere world (scene
box [-1.1, 1.1]^3, white background, no depth prior). Without a prior every ray is sampled coarse
(32 uniform samples between the depths the box can have from the cameras, no gradient) then fine
(32 importance samples; the field is trained on both sets).
Prints the held-out PSNR (dB) and SSIM (kornia, 11 px window) per mode and of the two baselines every novel-view
table carries (docs/protocol.md), on the same views at the same size: ``nearest_frame``, the training view whose
camera centre is nearest, as it is; ``neighbour_blend``, the mean of the two nearest training views, unwarped
(DTU has no depth to forward-warp them with, so this is the blend's no-depth rule). Writes the held-out renders,
the SDF mesh (PLY, marching cubes) and a PNG of that mesh ray-cast from the first held-out camera
(Lambertian shading of its vertex colours).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import kornia
import numpy as np
import open3d as o3d
import torch
from numpy.typing import NDArray

from stereo_nerf_core.config import TrainerConfig
from stereo_nerf_core.datasets.dtu import DtuView, load_dtu_scan
from stereo_nerf_core.eval.image_metrics import psnr
from stereo_nerf_core.render.renderer import SamplingConfig
from stereo_nerf_core.training.export import extract_mesh, write_mesh
from stereo_nerf_core.training.keyframes import TrainingKeyframe
from stereo_nerf_core.training.scene_bounds import SceneBounds
from stereo_nerf_core.training.trainer import Trainer

REPO = Path(__file__).resolve().parents[1]
DTU = REPO.parent / "shared" / "data" / "dtu_scan24_monosdf_384"
BASELINE_NAMES = ("nearest_frame", "neighbour_blend")
BOX = SceneBounds(np.full(3, -1.1), np.full(3, 1.1))


def keyframe(view: DtuView) -> TrainingKeyframe:
    """A DTU view as a training keyframe: no depth prior, every pixel valid, object = not pure white (the masked
    background of these images)."""
    height, width = view.rgb.shape[:2]
    return TrainingKeyframe(
        index=view.index,
        stamp_ns=view.index,
        rgb=view.rgb,
        depth=np.zeros((height, width), np.float32),
        confidence=np.zeros((height, width), np.float32),
        valid=np.ones((height, width), bool),
        K=view.K,
        T_world_camera=view.T_world_camera,
        foreground=view.rgb.min(axis=2) < 255,
    )


def trainer_config(mode: str, *, rays: int, seed: int, occupancy: int = 0, mask_weight: float = 0.1) -> TrainerConfig:
    """Training settings for a scene without depth prior (no depth loss, refinement or recency bias)."""
    return TrainerConfig(
        mode=mode,
        seed=seed,
        rays_per_batch=rays,
        binocular=False,
        recency_share=0.0,
        depth_loss_weight=0.0,
        opacity_weight=0.0,
        depth_refine_rounds=0,
        grid_levels=8,
        grid_log2_table_size=16,
        grid_max_resolution=512,
        coarse_samples=32,
        importance_samples=32,
        lr_decay_steps=4000,
        occupancy_resolution=occupancy,
        mask_loss_weight=mask_weight,
    )


def sampling(views: list[DtuView], config: TrainerConfig) -> SamplingConfig:
    """Depths Z the scene box can have from the cameras (they look at its centre), with the config's counts."""
    distances = np.array([np.linalg.norm(view.T_world_camera[:3, 3]) for view in views])
    radius = float(BOX.maximum.max())
    return SamplingConfig(
        near_m=float(distances.min()) - radius,
        far_m=float(distances.max()) + radius,
        uniform_count=config.coarse_samples,
        importance_count=config.importance_samples,
    )


def ssim(prediction: NDArray[np.float32], target: NDArray[np.float32]) -> float:
    """Mean SSIM (kornia, 11 px Gaussian window) of two (H, W, 3) images in [0, 1]."""
    a = torch.from_numpy(prediction).permute(2, 0, 1)[None].float()
    b = torch.from_numpy(target).permute(2, 0, 1)[None].float()
    return float(kornia.metrics.ssim(a, b, window_size=11).mean())


def raycast_png(mesh: o3d.geometry.TriangleMesh, view: DtuView, path: Path) -> None:
    """The mesh seen from ``view``'s camera: vertex colours x (0.25 + 0.75 |n . v|), white where nothing is hit."""
    height, width = view.rgb.shape[:2]
    scene = o3d.t.geometry.RaycastingScene()
    vertices = np.asarray(mesh.vertices, np.float32)
    faces = np.asarray(mesh.triangles, np.uint32)
    scene.add_triangles(vertices, faces)
    extrinsic = np.linalg.inv(view.T_world_camera)
    rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
        o3d.core.Tensor(view.K), o3d.core.Tensor(extrinsic), width, height
    )
    hit = scene.cast_rays(rays)
    t = hit["t_hit"].numpy()
    found = np.isfinite(t)
    normals = hit["primitive_normals"].numpy()
    directions = rays.numpy()[..., 3:]
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    shade = 0.25 + 0.75 * np.abs((normals * directions).sum(-1))
    ids = np.where(found, hit["primitive_ids"].numpy(), 0).astype(np.int64)
    uv = hit["primitive_uvs"].numpy()
    colours = np.asarray(mesh.vertex_colors) if mesh.has_vertex_colors() else np.full((len(vertices), 3), 0.8)
    corner = colours[faces[ids]]  # (H, W, 3 corners, 3)
    barycentric = np.stack([1.0 - uv[..., 0] - uv[..., 1], uv[..., 0], uv[..., 1]], axis=-1)
    colour = (corner * barycentric[..., None]).sum(-2) * shade[..., None]
    image = np.where(found[..., None], colour, 1.0)
    cv2.imwrite(str(path), cv2.cvtColor(np.clip(image * 255.0, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))


def baselines(train: list[DtuView], held: list[DtuView]) -> dict[str, dict[str, float]]:
    """Held-out PSNR and SSIM of ``nearest_frame`` and ``neighbour_blend`` (module docstring) over ``held``."""
    centres = np.array([view.T_world_camera[:3, 3] for view in train])
    figures: dict[str, dict[str, list[float]]] = {name: {"psnr_db": [], "ssim": []} for name in BASELINE_NAMES}
    for view in held:
        order = np.argsort(np.linalg.norm(centres - view.T_world_camera[:3, 3], axis=1))
        images = [train[i].rgb.astype(np.float32) / 255.0 for i in order[:2]]
        target = view.rgb.astype(np.float32) / 255.0
        for name, prediction in zip(BASELINE_NAMES, (images[0], (images[0] + images[1]) / 2.0), strict=True):
            figures[name]["psnr_db"].append(psnr(prediction, target))
            figures[name]["ssim"].append(ssim(prediction, target))
    return {name: {key: float(np.mean(values)) for key, values in entry.items()} for name, entry in figures.items()}


def run_mode(mode: str, train: list[DtuView], held: list[DtuView], args: argparse.Namespace) -> dict[str, float]:
    """Train one mode for the budget, score the held-out views, write renders (and the SDF mesh)."""
    config = trainer_config(
        mode, rays=args.rays, seed=args.seed, occupancy=args.occupancy, mask_weight=args.mask_weight
    )
    trainer = Trainer(
        config, device=args.device, bounds=BOX, background=(1.0, 1.0, 1.0), sampling=sampling(train, config)
    )
    for view in train:
        trainer.add_keyframe(keyframe(view))
    budget = args.sdf_budget_s if mode == "sdf" and args.sdf_budget_s is not None else args.budget_s
    summary = trainer.train(budget_s=budget, max_steps=args.max_steps)
    folder = args.out / mode
    folder.mkdir(parents=True, exist_ok=True)
    scores, structural = [], []
    for view in held:
        height, width = view.rgb.shape[:2]
        rendered = trainer.render(view.K, view.T_world_camera, width, height)
        target = view.rgb.astype(np.float32) / 255.0
        scores.append(psnr(rendered.rgb, target))
        structural.append(ssim(rendered.rgb, target))
        image = np.clip(rendered.rgb * 255.0, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"{view.index:06d}_rendered.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    result = {
        "steps": summary.steps,
        "train_seconds": summary.seconds,
        "rays_per_second": summary.rays_per_second,
        "psnr_db": float(np.mean(scores)),
        "ssim": float(np.mean(structural)),
    }
    if mode == "sdf":
        mesh = extract_mesh(trainer, resolution=args.mesh_resolution)
        write_mesh(mesh, folder / "mesh.ply")
        raycast_png(mesh, held[0], folder / "mesh.png")
        result["mesh_vertices"] = len(mesh.vertices)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--data", type=Path, default=DTU)
    parser.add_argument("--size", type=int, default=192, help="image side in pixels (384 = full)")
    parser.add_argument("--budget-s", type=float, default=600.0, help="training seconds per mode")
    parser.add_argument("--sdf-budget-s", type=float, default=None, help="training seconds of the sdf mode")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--modes", nargs="+", default=["nerf", "sdf"], choices=["nerf", "sdf"])
    parser.add_argument("--rays", type=int, default=1024, help="rays per step")
    parser.add_argument("--mesh-resolution", type=int, default=192)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--occupancy", type=int, default=0, help="occupancy grid cells per axis (0: none)")
    parser.add_argument("--mask-weight", type=float, default=0.1, help="mask loss weight (object = not pure white)")
    args = parser.parse_args()
    scene = load_dtu_scan(args.data, size=args.size)
    train, held = scene.split(hold_out_every=8)
    device = torch.device("cuda" if torch.cuda.is_available() and args.device == "auto" else "cpu")
    print(f"DTU scan24 {args.size}x{args.size}: {len(train)} training views, {len(held)} held out; device {device}, "
          f"{torch.get_num_threads()} torch threads, budget {args.budget_s:.0f} s per mode")
    results: dict[str, dict[str, float]] = baselines(train, held)
    for name in BASELINE_NAMES:
        row = results[name]
        print(f"{name} (baseline): held-out PSNR {row['psnr_db']:6.2f} dB  SSIM {row['ssim']:.3f}", flush=True)
    for mode in args.modes:
        start = time.perf_counter()
        results[mode] = run_mode(mode, train, held, args)
        row = results[mode]
        print(f"{mode:<5} steps {row['steps']:>6}  {row['rays_per_second']:>8.0f} rays/s  held-out PSNR "
              f"{row['psnr_db']:6.2f} dB  SSIM {row['ssim']:.3f}  ({time.perf_counter() - start:.0f} s with scoring)",
              flush=True)
    (args.out / "dtu_novel_views.json").write_text(json.dumps({"size": args.size, "budget_s": args.budget_s,
                                                              "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
