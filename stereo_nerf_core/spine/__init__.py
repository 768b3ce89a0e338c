"""The spine every consumer shares: bag or live messages -> synchronised pairs with calibration and robot poses
(:mod:`~stereo_nerf_core.spine.frames`), the rectified pair and its depth prior (:mod:`~stereo_nerf_core.spine.stages`),
and camera poses from odometry, the robot's tf chain or ground truth (:mod:`~stereo_nerf_core.spine.poses`,
:mod:`~stereo_nerf_core.spine.robot_poses`). It imports only the layers below (geometry, io, frontend);
the replay, the node stages, the trainer's bag keyframes, pose-free and the self-supervised stream build on it.
"""
