"""ament_python build of stereo_nerf_ros (colcon runs this file; tests read it with ast, never import it)."""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "stereo_nerf_ros"
HERE = Path(__file__).absolute().parent  # not resolve(): colcon --symlink-install links files into build/

# (folder of the package, installed as share/<package>/<folder>; file patterns)
SHARED_FOLDERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("launch", ("*.launch.py",)),
    ("config", ("*.yaml", "*.rviz")),
)

CONSOLE_SCRIPTS = [
    "stereo_frontend_node = stereo_nerf_ros.stereo_frontend_node:main",
    "matcher_node = stereo_nerf_ros.matcher_node:main",
    "depth_prior_node = stereo_nerf_ros.depth_prior_node:main",
    "tracker_node = stereo_nerf_ros.tracker_node:main",
    "trainer_node = stereo_nerf_ros.trainer_node:main",
    "bag_player = stereo_nerf_ros.bag_player:main",
]


def data_files(root: Path = HERE) -> list[tuple[str, list[str]]]:
    """setuptools data_files: the ament index marker, package.xml, launch files and configs (paths relative to root)."""
    files: list[tuple[str, list[str]]] = [
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ]
    for folder, patterns in SHARED_FOLDERS:
        found = sorted({path.relative_to(root).as_posix() for p in patterns for path in (root / folder).glob(p)})
        files.append((f"share/{PACKAGE}/{folder}", found))
    return files


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=data_files(),
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="stereo_nerf maintainers",
    maintainer_email="stereo-nerf@example.com",
    description="ROS 2 nodes of stereo_nerf (thin wrappers around stereo_nerf_core)",
    license="Apache-2.0",
    # `colcon test` runs pytest when it is a test dependency: older colcon-core reads tests_require,
    # newer also extras_require["test"].
    tests_require=["pytest"],
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
