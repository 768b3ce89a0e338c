"""Configuration of the synthetic stereo endoscope: one frozen dataclass and named presets.

Lengths are metres, angles degrees, times seconds, image sizes pixels. Every random quantity of a
recording derives from :attr:`SyntheticConfig.seed`, so one configuration gives byte-identical bags.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from stereo_nerf_core.errors import ConfigError

Storage = Literal["mcap", "sqlite3"]
Compression = Literal["none", "zstd"]


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that defines a synthetic recording (scene, rig, motion, sensor, timing, storage)."""

    width: int = 320
    """Image width in pixels of both cameras (the SCARED-like optics are scaled to it)."""
    height: int = 256
    """Image height in pixels of both cameras."""
    frames: int = 44
    """Number of stereo frames in the clip."""
    fps: float = 10.0
    """Frame rate in Hz; left stamps are exactly ``1 / fps`` apart."""
    seed: int = 2024
    """Seed of every random quantity: tissue folds, texture, instrument path, noise, jitter, drops."""
    start_time_ns: int = 1_700_000_000_000_000_000
    """Header stamp of the first left image (ns since the Unix epoch); bag log time equals stamps."""
    right_stamp_jitter_s: float = 0.001
    """Largest offset of a right stamp from its left stamp (uniform in +-this, from the seed)."""
    drop_rate: float = 0.0
    """Probability per frame that the left or the right image (with its camera_info) is dropped."""
    baseline_m: float = 0.0041
    """Distance between the two camera centres (da Vinci Xi/SCARED: about 4.1 mm)."""
    standoff_m: float = 0.085
    """Distance from the camera to the tissue's mean plane along the viewing direction."""
    travel_m: float = 0.020
    """Length of the camera's path over the clip."""
    rotation_deg: float = 10.0
    """Approximate rotation of the camera between the first and the last frame."""
    fold_amplitude_m: float = 0.012
    """Height of the largest tissue folds towards or away from the camera (folds and undulations are
    scaled down where needed so that no tissue slope exceeds 0.9)."""
    tissue_tilt: float = 0.12
    """Slope of the tissue's mean plane (dz/dx), so it is not fronto-parallel."""
    breathing_amplitude_m: float = 0.0
    """Peak displacement of the periodic tissue motion along the world z axis (0 = static tissue)."""
    breathing_period_s: float = 4.0
    """Period of the tissue motion."""
    instrument: bool = True
    """Whether a surgical instrument enters the view partway through the clip."""
    instrument_radius_m: float = 0.004
    """Radius of the instrument shaft (8 mm diameter)."""
    instrument_enter_fraction: float = 0.35
    """Fraction of the clip at which the instrument starts moving in (it reaches the view shortly after)."""
    instrument_settle_fraction: float = 0.75
    """Fraction of the clip at which the instrument reaches its working position."""
    texel_m: float = 1.0e-4
    """Texel size of the world-space tissue texture."""
    tissue_extent_m: float = 0.24
    """Side of the square of tissue that is textured (the view never leaves it)."""
    noise: bool = True
    """Whether to apply Poisson-Gaussian sensor noise."""
    full_well_electrons: float = 5000.0
    """Electrons at a linear value of 1.0 (before clipping): sets the shot noise."""
    read_noise_electrons: float = 8.0
    """Standard deviation of the Gaussian read noise in electrons."""
    gamma: float = 2.2
    """Display gamma of the 8-bit output (value = linear ** (1 / gamma))."""
    vignetting: float = 0.3
    """Relative darkening at the image corners (radial, quadratic in the distance from the centre)."""
    light_falloff_power: float = 2.0
    """Exponent of the light cone: emitted intensity ~ cos(angle to the light axis) ** power."""
    mid_grey_linear: float = 0.25
    """Linear value that typical tissue (mean albedo, at the standoff, facing the light) is exposed to."""
    specular_strength: float = 1.3
    """Linear peak of the sharp wet-tissue highlight (values above 1 saturate)."""
    specular_shininess: float = 250.0
    """Blinn-Phong exponent of the sharp highlight."""
    bump_slope: float = 0.04
    """Standard deviation of the fine surface slope that only perturbs shading normals (wet glints)."""
    optical_blur_px: float = 0.5
    """Standard deviation of the lens blur in pixels (0 disables it)."""
    storage: Storage = "mcap"
    """Bag storage plugin."""
    compression: Compression = "zstd"
    """Bag compression: zstd chunk compression for mcap, per-message zstd for sqlite3."""
    progress: bool = True
    """Whether to show a tqdm progress bar while rendering."""

    def __post_init__(self) -> None:
        positive = {
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "fps": self.fps,
            "baseline_m": self.baseline_m,
            "standoff_m": self.standoff_m,
            "breathing_period_s": self.breathing_period_s,
            "instrument_radius_m": self.instrument_radius_m,
            "texel_m": self.texel_m,
            "tissue_extent_m": self.tissue_extent_m,
            "full_well_electrons": self.full_well_electrons,
            "gamma": self.gamma,
            "mid_grey_linear": self.mid_grey_linear,
            "specular_shininess": self.specular_shininess,
        }
        for name, value in positive.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"synthetic config: {name} must be positive, got {value!r}")
        non_negative = {
            "right_stamp_jitter_s": self.right_stamp_jitter_s,
            "travel_m": self.travel_m,
            "rotation_deg": self.rotation_deg,
            "fold_amplitude_m": self.fold_amplitude_m,
            "breathing_amplitude_m": self.breathing_amplitude_m,
            "read_noise_electrons": self.read_noise_electrons,
            "light_falloff_power": self.light_falloff_power,
            "specular_strength": self.specular_strength,
            "bump_slope": self.bump_slope,
            "optical_blur_px": self.optical_blur_px,
        }
        for name, value in non_negative.items():
            if not (math.isfinite(value) and value >= 0):
                raise ConfigError(f"synthetic config: {name} must be >= 0, got {value!r}")
        if not 0.0 <= self.drop_rate < 1.0:
            raise ConfigError(f"synthetic config: drop_rate must be in [0, 1), got {self.drop_rate}")
        if not 0.0 <= self.vignetting < 1.0:
            raise ConfigError(f"synthetic config: vignetting must be in [0, 1), got {self.vignetting}")
        if not 0.0 <= self.instrument_enter_fraction < self.instrument_settle_fraction <= 1.0:
            raise ConfigError(
                "synthetic config: need 0 <= instrument_enter_fraction < instrument_settle_fraction <= 1, "
                f"got {self.instrument_enter_fraction} and {self.instrument_settle_fraction}"
            )
        if self.storage not in ("mcap", "sqlite3"):
            raise ConfigError(f"synthetic config: storage must be 'mcap' or 'sqlite3', got {self.storage!r}")
        if self.compression not in ("none", "zstd"):
            raise ConfigError(
                f"synthetic config: compression must be 'none' or 'zstd', got {self.compression!r}"
            )
        if self.start_time_ns < 0:
            raise ConfigError(f"synthetic config: start_time_ns must be >= 0, got {self.start_time_ns}")
        if self.breathing_amplitude_m + self.fold_amplitude_m >= 0.6 * self.standoff_m:
            raise ConfigError(
                "synthetic config: fold_amplitude_m + breathing_amplitude_m must stay below 60% of "
                "standoff_m so the tissue never reaches the camera"
            )

    @property
    def frame_period_ns(self) -> int:
        """Nanoseconds between consecutive left stamps."""
        return round(1e9 / self.fps)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last frame (one frame period for a single-frame clip)."""
        return max(self.frames - 1, 1) / self.fps

    def replace(self, **changes: Any) -> SyntheticConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, SyntheticConfig] = {
    # The committed sample bag (rosbags/sample_endoscope): small, static tissue, instrument enters.
    "sample": SyntheticConfig(),
    # The second committed bag (rosbags/breathing_endoscope): the tissue rises and falls 3 mm every 2 s while
    # the camera moves; no instrument. Under 10 MB.
    "breathing": SyntheticConfig(
        width=224, height=176, frames=32, breathing_amplitude_m=0.003, breathing_period_s=2.0, instrument=False
    ),
    # SCARED-sized frames for offline experiments (not committed: about 4 MB per frame).
    "full": SyntheticConfig(width=1280, height=1024, frames=100, fps=25.0, texel_m=5.0e-5),
    # A few tiny frames for smoke tests.
    "tiny": SyntheticConfig(width=128, height=104, frames=8, texel_m=3.0e-4, progress=False),
}


def preset(name: str, **changes: Any) -> SyntheticConfig:
    """The named preset (``sample``, ``breathing``, ``full`` or ``tiny``) with ``changes`` applied."""
    if name not in PRESETS:
        raise ConfigError(f"unknown synthetic preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name].replace(**changes) if changes else PRESETS[name]
