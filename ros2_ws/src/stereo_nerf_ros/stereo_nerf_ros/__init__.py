"""stereo_nerf_ros: ROS 2 nodes wrapping stereo_nerf_core.

Modules without rclpy (importable and tested anywhere): :mod:`node_specs`, :mod:`parameters`,
:mod:`depth_prior`, :mod:`ros_messages` (rclpy is imported only inside its function). The node
modules (``*_node.py``) and their shared glue :mod:`node_runtime` import rclpy at module level and
stay thin: each node's logic is a stage of ``stereo_nerf_core.pipeline``.
"""
