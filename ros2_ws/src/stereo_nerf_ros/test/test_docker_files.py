"""docker/: the image builds with colcon, runs the launch tests on every build and starts the pipeline; the
cart's compose service has the GPU, host networking and the bag folder. (Skipped inside the image, which
holds the workspace only.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[4] / "docker"
pytestmark = pytest.mark.skipif(not DOCKER.is_dir(), reason=f"{DOCKER} is not here (inside the image)")


def test_dockerfile_builds_tests_and_launches() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert "FROM ros:${ROS_DISTRO}-ros-base AS build" in text and "ARG ROS_DISTRO=jazzy" in text
    assert "colcon build" in text
    assert "FROM build AS test" in text and "colcon test --packages-select stereo_nerf_ros" in text
    assert "--return-code-on-test-failure" in text
    assert "COPY --from=test" in text.split("FROM build AS runtime")[1]  # every build runs the tests
    assert 'CMD ["ros2", "launch", "stereo_nerf_ros", "pipeline.launch.py"]' in text


def test_compose_runs_on_the_cart_gpu_with_host_network_and_bags() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    service = compose["services"]["pipeline"]
    assert service["network_mode"] == "host"
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert any(volume.endswith(":/bags:ro") for volume in service["volumes"])
    assert service["command"][:4] == ["ros2", "launch", "stereo_nerf_ros", "pipeline.launch.py"]


def test_readme_says_it_needs_a_docker_engine() -> None:
    assert "cannot be built on a machine without a Docker engine" in (DOCKER / "README.md").read_text()
