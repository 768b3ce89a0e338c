"""stereo_nerf_ros: ROS 2 nodes wrapping stereo_nerf_core.

Modules without rclpy (importable and tested anywhere): :mod:`parameters`, :mod:`depth_prior`,
:mod:`ros_messages` (rclpy is imported only inside its function). The node modules
(``*_node.py``) import rclpy at module level and stay thin.
"""
