"""Stages shared by the ROS nodes and the offline replay, and the replay itself."""
