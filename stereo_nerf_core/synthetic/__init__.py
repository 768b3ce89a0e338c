"""A synthetic da Vinci-like stereo endoscope with exact ground truth, recorded as a real ROS 2 bag.

Modules: ``config`` (:class:`SyntheticConfig`, presets), ``rig`` (SCARED-like stereo rig), ``scene``
(analytic tissue heightfield, true surface for evaluation), ``texture`` (world-space tissue albedo),
``trajectory`` (camera motion), ``instrument`` (analytic tool), ``raycast`` (heightfield ray casting),
``sensor`` (vignetting, noise, gamma), ``render`` (raw stereo frames + ground truth), ``world`` (scene
assembly), ``recorder`` (the bag) and ``cli`` (the ``record-synthetic`` subcommand).
"""

from stereo_nerf_core.synthetic.config import PRESETS, SyntheticConfig, preset
from stereo_nerf_core.synthetic.recorder import RecordingSummary, frame_schedule, record_synthetic_bag
from stereo_nerf_core.synthetic.render import RenderedStereoFrame, StereoRenderer, ViewRender
from stereo_nerf_core.synthetic.rig import StereoRig, davinci_rig
from stereo_nerf_core.synthetic.scene import TissueSurface, true_surface_mesh, true_surface_points
from stereo_nerf_core.synthetic.world import SyntheticWorld, build_world

__all__ = [
    "PRESETS",
    "RecordingSummary",
    "RenderedStereoFrame",
    "StereoRenderer",
    "StereoRig",
    "SyntheticConfig",
    "SyntheticWorld",
    "TissueSurface",
    "ViewRender",
    "build_world",
    "davinci_rig",
    "frame_schedule",
    "preset",
    "record_synthetic_bag",
    "true_surface_mesh",
    "true_surface_points",
]
