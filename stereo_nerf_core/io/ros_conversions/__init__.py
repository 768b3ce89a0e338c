"""Conversions of the message types beyond plain images and camera_info, ROS-free.

Like :mod:`stereo_nerf_core.io.messages` (images, camera_info, poses, tf), every function here
works on any message classes with ROS 2 field names: rosbags' in the core and the tests, rclpy's in
the nodes (:class:`~stereo_nerf_core.io.messages.MessageClasses` names them). Modules:

* :mod:`.compressed`: sensor_msgs/CompressedImage (jpeg, png) <-> arrays
* :mod:`.point_cloud`: sensor_msgs/PointCloud2 with float32 x, y, z and a packed float32 rgb field
* :mod:`.trajectory`: nav_msgs/Path and tf2_msgs/TFMessage with several transforms
* :mod:`.marker`: visualization_msgs/Marker TRIANGLE_LIST meshes with per-vertex colours
"""
