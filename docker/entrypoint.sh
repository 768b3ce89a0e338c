#!/bin/bash
# Sources ROS 2 and the stereo_nerf workspace, then runs the command (default: the pipeline launch file).
set -e
# shellcheck disable=SC1090
source "/opt/ros/${ROS_DISTRO:-jazzy}/setup.bash"
# shellcheck disable=SC1091
source /ws/install/setup.bash
exec "$@"
