"""Speed of the neural renderer: training-step rays/second and full-frame render time, on CPU and CUDA.

Usage: python benchmarks/render_speed.py [--rays 4096] [--width 640 --height 512] [--repeats 3]
       [--cpu-frame-rows 64] [--threads N]

A training step is render_rays + losses (L1 colour, relative depth, eikonal for SDF fields) +
backward + Adam step on a batch of rays with the default SamplingConfig (depth prior on 90% of the
rays: 32 Gaussian + 16 uniform samples; without one: 16 coarse + 48 importance + the 16 coarse
again = 64 samples). Frames are rendered with render_image (no_grad, chunked, deterministic).
On CPU a frame takes minutes, so by default only the top ``--cpu-frame-rows`` rows are rendered
and the time is scaled to the full frame (rendering cost is linear in the rays; the line says
so); ``--cpu-frame-rows 0`` renders the whole frame. CPU frames use chunks of ``--cpu-chunk`` rays
(1024: smaller temporaries avoid page faults of fresh large allocations; CUDA uses the
SamplingConfig default). CUDA runs use ``torch.autocast`` (float16)
for the training step and always render the full frame.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

from stereo_nerf_core.fields import NerfFieldConfig, SdfFieldConfig
from stereo_nerf_core.models import Model, NerfModel, NeusModel
from stereo_nerf_core.render import SamplingConfig, camera_rays, eikonal_loss, render_image, render_rays

BOUNDS_MIN, BOUNDS_MAX = (-0.15, -0.12, 0.0), (0.15, 0.12, 0.26)


def _fields(device: torch.device) -> dict[str, Callable[[], Model]]:
    def nerf() -> Model:
        return NerfModel(NerfFieldConfig(), bounds_min=BOUNDS_MIN, bounds_max=BOUNDS_MAX).to(device)

    def sdf(mode: str) -> Callable[[], Model]:
        config = SdfFieldConfig(gradient_mode=mode)  # type: ignore[arg-type]
        return lambda: NeusModel(config, bounds_min=BOUNDS_MIN, bounds_max=BOUNDS_MAX).to(device)

    return {"nerf": nerf, "sdf autograd": sdf("autograd"), "sdf finite-diff": sdf("finite_difference")}


def _intrinsics(width: int, height: int, device: torch.device) -> torch.Tensor:
    f = 0.8 * width
    return torch.tensor([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]], device=device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _prior(n: int, generator: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    depth = 0.08 + 0.01 * torch.rand(n, generator=generator, device=device)
    depth[torch.rand(n, generator=generator, device=device) < 0.1] = 0.0  # 10% of the rays without a prior
    return depth, torch.full((n,), 0.8, device=device)


def training_step_ms(
    make: Callable[[], Model], device: torch.device, rays_count: int, width: int, height: int, repeats: int, prior: bool
) -> float:
    """Median wall time (ms) of one training step."""
    torch.manual_seed(0)
    field = make()
    field.train()
    optimiser = torch.optim.Adam(field.parameters(), lr=1e-2, eps=1e-15)
    generator = torch.Generator(device=device).manual_seed(0)
    K, T = _intrinsics(width, height, device), torch.eye(4, device=device)
    config = SamplingConfig()
    times = []
    for _ in range(repeats + 1):
        pixels = torch.rand(rays_count, 2, generator=generator, device=device) * torch.tensor(
            [width - 1.0, height - 1.0], device=device
        )
        depth, confidence = _prior(rays_count, generator, device)
        target = torch.rand(rays_count, 3, generator=generator, device=device)
        _sync(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            out = render_rays(
                field.callbacks(),
                camera_rays(K, T, pixels),
                config,
                depth_prior=depth if prior else None,
                confidence=confidence if prior else None,
                generator=generator,
                stratified=True,
            )
        loss = (out.rgb - target).abs().mean()
        has_depth = depth > 0
        loss = loss + 0.1 * ((out.depth - depth).abs() / depth.clamp_min(1e-3))[has_depth].mean()
        if out.gradients is not None:
            loss = loss + 0.1 * eikonal_loss(out.gradients)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        _sync(device)
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times[1:])


def frame_seconds(
    make: Callable[[], Model], device: torch.device, width: int, height: int, rows: int, prior: bool, chunk: int
) -> tuple[float, int]:
    """Seconds for a full frame (scaled from ``rows`` rows when 0 < rows < height) and the rows rendered."""
    torch.manual_seed(0)
    field = make()
    field.eval()
    rendered = height if rows <= 0 or rows >= height else rows
    K = _intrinsics(width, height, device)  # the top `rendered` rows of the frame: same optics, fewer rows
    generator = torch.Generator(device=device).manual_seed(1)
    depth, confidence = _prior(width * rendered, generator, device)
    config = SamplingConfig()
    warm_up = min(rendered, 8)
    render_image(field.callbacks(), K, torch.eye(4, device=device), width, warm_up, config, chunk=chunk)
    _sync(device)
    start = time.perf_counter()
    render_image(
        field.callbacks(),
        K,
        torch.eye(4, device=device),
        width,
        rendered,
        config,
        chunk=chunk,
        depth_prior=depth if prior else None,
        confidence=confidence if prior else None,
    )
    _sync(device)
    return (time.perf_counter() - start) * height / rendered, rendered


def run(device: torch.device, args: argparse.Namespace) -> None:
    rows = args.cpu_frame_rows if device.type == "cpu" else 0
    chunk = args.cpu_chunk if device.type == "cpu" else SamplingConfig().chunk_size
    print(f"{device.type.upper()}: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'host'}")
    print(f"  training step (forward + backward + Adam), {args.rays} rays, default SamplingConfig:")
    for name, make in _fields(device).items():
        for prior in (True, False):
            if name == "sdf finite-diff" and not prior and device.type == "cpu" and not args.all:
                continue
            ms = training_step_ms(make, device, args.rays, args.width, args.height, args.repeats, prior)
            label = f"{name}, {'depth prior' if prior else 'no prior'}"
            print(f"    {label:<34}{ms:>9.0f} ms {1000.0 * args.rays / ms:>9.0f} rays/s", flush=True)
    print(f"  frame {args.width}x{args.height} (render_image, no_grad, chunk {chunk} rays):")
    for name, make in _fields(device).items():
        if name == "sdf finite-diff" and device.type == "cpu" and not args.all:
            continue
        for prior in (True, False):
            seconds, rendered = frame_seconds(make, device, args.width, args.height, rows, prior, chunk)
            label = f"{name}, {'depth prior' if prior else 'no prior'}"
            note = "" if rendered == args.height else f"  (scaled from {rendered} of {args.height} rows)"
            print(f"    {label:<34}{seconds:>9.2f} s {1.0 / seconds:>9.3f} frames/s{note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rays", type=int, default=4096)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="timed training steps (median) after one warm-up")
    parser.add_argument("--cpu-frame-rows", type=int, default=64, help="rows rendered on CPU; 0 = the full frame")
    parser.add_argument(
        "--cpu-chunk", type=int, default=1024, help="rays per render_image chunk on CPU (small temporaries are faster)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads on CPU")
    parser.add_argument("--all", action="store_true", help="also the slow CPU cases (SDF finite differences)")
    parser.add_argument("--skip-cpu", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"render_speed: torch {torch.__version__}, CPU threads {torch.get_num_threads()} of {os.cpu_count()} CPUs, "
        f"load average {load:.1f}"
    )
    if not args.skip_cpu:
        run(torch.device("cpu"), args)
    if torch.cuda.is_available():
        run(torch.device("cuda"), args)
    else:
        print("CUDA: not available")


if __name__ == "__main__":
    main()
