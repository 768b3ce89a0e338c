"""The package on the path, the ROS 2 environment of the tests, and the workspace built once per session.

DDS stays on this machine: every test process (and each graph it launches) runs with
``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` in a domain of its own, so parallel runs never see each other
and nothing leaves through the network interface. ``../shared/ros2`` (launch, launch_ros, message_filters:
pure Python, not on PyPI) goes on the path when it is beside the repository; where it or the ROS wheels
(``requirements-ros.lock``, installed by ``make``) are missing, the ROS tests skip and say which.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO = PACKAGE_ROOT.parents[2]
SHARED_ROS = REPO.parent / "shared" / "ros2"
SAMPLE_BAG = REPO / "rosbags" / "sample_endoscope"
CONFIG = REPO / "config" / "pipeline.yaml"
DOMAIN_ID = 10 + os.getpid() % 90
"""This test run's DDS domain (0-101 are valid on Linux with the default port mapping)."""

if str(PACKAGE_ROOT) not in sys.path:
    sys.path.insert(0, str(PACKAGE_ROOT))
if SHARED_ROS.is_dir() and str(SHARED_ROS) not in sys.path:
    sys.path.insert(0, str(SHARED_ROS))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["ROS_DOMAIN_ID"] = str(DOMAIN_ID)
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="stereo_nerf_ros_log_"))


def ros_missing() -> str | None:
    """Why the ROS tests cannot run here, or None when they can."""
    if importlib.util.find_spec("rclpy") is None:
        return "rclpy is not installed (make installs requirements-ros.lock into .venv)"
    missing = [name for name in ("launch", "launch_ros", "message_filters") if importlib.util.find_spec(name) is None]
    if missing:
        return f"{', '.join(missing)} cannot be imported: {SHARED_ROS} is not beside the repository (nor ROS sourced)"
    return None


requires_ros = pytest.mark.skipif(ros_missing() is not None, reason=str(ros_missing()))
"""Marks a test that runs nodes over DDS (skipped, with the reason, where ROS cannot be had)."""


@pytest.fixture(scope="session")
def ros_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """``colcon build`` of ros2_ws into a temporary folder, as a user builds it; (install folder, environment)."""
    from stereo_nerf_ros.graph_session import colcon_build, ros_environment

    root = tmp_path_factory.mktemp("ros2_ws")
    env = ros_environment(domain_id=DOMAIN_ID, pythonpath=[SHARED_ROS], log_dir=root / "ros_log")
    if not SAMPLE_BAG.is_dir():
        pytest.skip(f"the sample bag {SAMPLE_BAG} is not here")
    return colcon_build(PACKAGE_ROOT.parent, root, env), env
