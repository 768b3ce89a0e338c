"""Online training of the neural fields from stereo keyframes, and what a trained model exports.

``keyframes`` (the data the front-end hands over and the bounded buffer), ``rays_batch`` (ray
sampling), ``losses`` / ``objective`` (training terms), ``trainer`` (:class:`Trainer`: steps, time
budgets, background thread, renders, depth refinement, pose refinement, checkpoints) and ``export``
(depth/colour images, point clouds, marching-cubes meshes, pose reports). ``bag_keyframes`` builds
keyframes from a recorded bag with the replay's stages.
"""

from stereo_nerf_core.training.errors import TrainingError
from stereo_nerf_core.training.keyframes import KeyframeBuffer, TrainingKeyframe
from stereo_nerf_core.training.results import RenderedView, StepStats, TrainSummary
from stereo_nerf_core.training.trainer import Trainer

__all__ = [
    "KeyframeBuffer",
    "RenderedView",
    "StepStats",
    "TrainSummary",
    "Trainer",
    "TrainingError",
    "TrainingKeyframe",
]
