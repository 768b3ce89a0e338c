"""stereo_nerf_core: the ROS-free library behind stereo_nerf.

Layers (each a subpackage): ``geometry`` (cameras, rigs, transforms), ``io`` (ROS 2 bags and message
conversion without ROS), ``synthetic`` (the synthetic stereo endoscope), ``frontend`` (sync,
rectification, depth prior), ``fusion`` (TSDF), ``eval`` (metrics and reports) and ``pipeline``
(the offline replay that runs the same stages as the ROS nodes).
"""

__version__ = "0.1.0"
