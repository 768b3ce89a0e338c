"""ROS 2 bags and message conversion without ROS (rosbags' message classes share rclpy's field names)."""
