"""Launch the stereo_nerf pipeline: stereo_frontend, matcher, depth_prior, tracker and trainer, optionally
with a bag and RViz.

Arguments (``ros2 launch stereo_nerf_ros pipeline.launch.py --show-args``):
  config             parameter YAML for every node (default: the installed config/pipeline.yaml)
  namespace          namespace of the nodes (outputs become /<namespace>/<node>/...; relative inputs
                     such as stereo/left/image_raw resolve in it too)
  left_image, right_image, left_camera_info, right_camera_info
                     the driver's topics, remapped onto the stereo_nerf input topics (also their
                     /compressed sub-topics, for nodes.compressed_input); relative names resolve in
                     the namespace
  use_sim_time       use /clock (set true together with bag:=...)
  bag                a bag folder to play into the graph with the package's bag_player (rosbags, no
                     rosbag2 needed), in the namespace, stamps kept (default: none)
  bag_rate           the bag's playback rate (default 1.0: as recorded)
  respawn            restart a node that dies, 1 s later (default true; the trainer resumes from its checkpoint)
  rviz               start RViz2 with config/stereo_nerf.rviz

The nodes and their wiring are those of stereo_nerf_ros.node_specs (the same wiring the offline
stereo_nerf_core.pipeline.graph.StageGraph replays bags through).
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.launch_description import LaunchDescription
from launch.substitutions import LaunchConfiguration, NotEqualsSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from stereo_nerf_ros.node_specs import SPECS

from stereo_nerf_core.pipeline.node_topics import RAW_INPUTS

PACKAGE = "stereo_nerf_ros"
DRIVER_ARGUMENTS = dict(
    zip(RAW_INPUTS, ("left_image", "right_image", "left_camera_info", "right_camera_info"), strict=True)
)
"""Input topic (relative) -> the launch argument that remaps it."""
IMAGE_INPUTS = RAW_INPUTS[:2]


BACKGROUND_PREFIX = "nice -n 10"
"""Background nodes (matcher, trainer) start niced: a respawned trainer's start-up (interpreter, imports) must not
take the front-end's CPU before its runtime applies ``nodes.background_niceness``."""


def generate_launch_description() -> LaunchDescription:
    """The pipeline's launch description."""
    share = get_package_share_directory(PACKAGE)
    default_config = os.path.join(share, "config", "pipeline.yaml")
    rviz_config = os.path.join(share, "config", "stereo_nerf.rviz")

    config = LaunchConfiguration("config")
    namespace = LaunchConfiguration("namespace")
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    bag = LaunchConfiguration("bag")

    arguments = [
        DeclareLaunchArgument("config", default_value=default_config, description="Parameter YAML of every node"),
        DeclareLaunchArgument("namespace", default_value="", description="Namespace of the nodes"),
        DeclareLaunchArgument(
            "left_image", default_value=RAW_INPUTS[0], description="Left raw image topic (sensor_msgs/Image)"
        ),
        DeclareLaunchArgument(
            "right_image", default_value=RAW_INPUTS[1], description="Right raw image topic (sensor_msgs/Image)"
        ),
        DeclareLaunchArgument(
            "left_camera_info",
            default_value=RAW_INPUTS[2],
            description="Left camera_info topic (sensor_msgs/CameraInfo, calibrated stereo pair)",
        ),
        DeclareLaunchArgument(
            "right_camera_info",
            default_value=RAW_INPUTS[3],
            description="Right camera_info topic (sensor_msgs/CameraInfo, calibrated stereo pair)",
        ),
        DeclareLaunchArgument(
            "use_sim_time", default_value="false", description="Use /clock as time (true when playing a bag)"
        ),
        DeclareLaunchArgument(
            "bag", default_value="", description="Bag folder to play into the graph (empty: play nothing)"
        ),
        DeclareLaunchArgument("bag_rate", default_value="1.0", description="Playback rate of bag (1.0: as recorded)"),
        DeclareLaunchArgument("respawn", default_value="true", description="Restart a node that dies"),
        DeclareLaunchArgument("rviz", default_value="false", description="Start RViz2 with config/stereo_nerf.rviz"),
    ]

    nodes = []
    for spec in SPECS.values():
        remappings = []
        for topic, argument in DRIVER_ARGUMENTS.items():
            if topic in spec.inputs:
                remappings.append((topic, LaunchConfiguration(argument)))
                if topic in IMAGE_INPUTS:
                    remappings.append((f"{topic}/compressed", [LaunchConfiguration(argument), "/compressed"]))
        nodes.append(
            Node(
                package=PACKAGE,
                executable=spec.executable,
                name=spec.name,
                namespace=namespace,
                parameters=[config, {"use_sim_time": use_sim_time}],
                remappings=remappings,
                output="screen",
                emulate_tty=True,
                respawn=LaunchConfiguration("respawn"),
                respawn_delay=1.0,
                prefix=BACKGROUND_PREFIX if spec.background else None,
                exec_name=spec.executable,
            )
        )
    bag_player = Node(
        package=PACKAGE,
        executable="bag_player",
        name="bag_player",
        namespace=namespace,
        parameters=[
            {
                "bag": bag,
                "rate": ParameterValue(LaunchConfiguration("bag_rate"), value_type=float),
                "clock": use_sim_time,
            }
        ],
        condition=IfCondition(NotEqualsSubstitution(bag, "")),
        output="screen",
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", rviz_config],
        parameters=[{"use_sim_time": use_sim_time}],
        condition=IfCondition(LaunchConfiguration("rviz")),
        output="screen",
    )
    return LaunchDescription([*arguments, *nodes, bag_player, rviz])
