"""Everything a synthetic recording renders, built once from a :class:`SyntheticConfig`."""

from __future__ import annotations

from dataclasses import dataclass

from stereo_nerf_core.synthetic.config import SyntheticConfig
from stereo_nerf_core.synthetic.instrument import Instrument, make_instrument
from stereo_nerf_core.synthetic.raycast import HeightGrid
from stereo_nerf_core.synthetic.rig import StereoRig, davinci_rig
from stereo_nerf_core.synthetic.scene import TissueSurface
from stereo_nerf_core.synthetic.texture import TissueTexture, build_tissue_texture
from stereo_nerf_core.synthetic.trajectory import CameraTrajectory


@dataclass(frozen=True)
class SyntheticWorld:
    """The rig, the tissue (surface, grid, texture), the camera motion and the optional instrument."""

    config: SyntheticConfig
    rig: StereoRig
    surface: TissueSurface
    grid: HeightGrid
    texture: TissueTexture
    trajectory: CameraTrajectory
    instrument: Instrument | None

    def frame_time_s(self, index: int) -> float:
        """Scene time of frame ``index`` (both images are exposed at this instant)."""
        return index / self.config.fps


def build_world(config: SyntheticConfig) -> SyntheticWorld:
    """Build the scene of ``config`` (deterministic from ``config.seed``)."""
    rig = davinci_rig(config.width, config.height, config.baseline_m)
    surface = TissueSurface.from_seed(
        config.seed,
        fold_amplitude_m=config.fold_amplitude_m,
        tilt=config.tissue_tilt,
        breathing_amplitude_m=config.breathing_amplitude_m,
        breathing_period_s=config.breathing_period_s,
    )
    grid = HeightGrid.from_surface(surface, config.tissue_extent_m)
    # blur the texture to about half the pixel footprint at the standoff (one mip level, no aliasing)
    footprint_m = config.standoff_m / rig.left.K[0, 0]
    texture = build_tissue_texture(
        config.seed,
        extent_m=config.tissue_extent_m,
        texel_m=config.texel_m,
        prefilter_sigma_m=0.5 * footprint_m,
        bump_slope=config.bump_slope,
    )
    trajectory = CameraTrajectory(config.duration_s, config.standoff_m, config.travel_m, config.rotation_deg)
    instrument = None
    if config.instrument:
        instrument = make_instrument(
            trajectory,
            config.seed,
            radius_m=config.instrument_radius_m,
            enter_fraction=config.instrument_enter_fraction,
            settle_fraction=config.instrument_settle_fraction,
        )
    return SyntheticWorld(config, rig, surface, grid, texture, trajectory, instrument)
