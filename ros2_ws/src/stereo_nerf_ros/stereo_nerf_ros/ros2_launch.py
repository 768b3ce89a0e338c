"""``ros2 launch`` for machines without ros2cli: runs a package's launch file with :class:`launch.LaunchService`.

    python -m stereo_nerf_ros.ros2_launch stereo_nerf_ros pipeline.launch.py namespace:=cart1 rviz:=false

This is what ``ros2 launch`` does (ros2launch's ``launch_a_launch_file``): find the file in the package's
share folder, include it with the ``name:=value`` arguments, run until every process exits or SIGINT /
SIGTERM arrives (then the nodes get SIGINT, as with ``ros2 launch``). Source the workspace's
``install/setup.sh`` first, as for ``ros2 launch``.
"""

from __future__ import annotations

import sys
from pathlib import Path


def launch_arguments(arguments: list[str]) -> list[tuple[str, str]]:
    """``["a:=1", "b:=x"]`` -> ``[("a", "1"), ("b", "x")]``; ValueError naming a malformed argument."""
    pairs = []
    for argument in arguments:
        name, separator, value = argument.partition(":=")
        if not separator or not name:
            raise ValueError(f"launch argument {argument!r} is not of the form name:=value")
        pairs.append((name, value))
    return pairs


def main(argv: list[str] | None = None) -> int:
    """``PACKAGE LAUNCH_FILE [name:=value ...]``; returns the launch service's exit code (2: bad arguments)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print("usage: python -m stereo_nerf_ros.ros2_launch PACKAGE LAUNCH_FILE [name:=value ...]", file=sys.stderr)
        return 2
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description import LaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.launch_service import LaunchService

    package, launch_file = args[0], args[1]
    try:
        pairs = launch_arguments(args[2:])
        path = Path(get_package_share_directory(package)) / "launch" / launch_file
    except (ValueError, PackageNotFoundError) as error:
        print(f"ros2_launch: {error} (did you source install/setup.sh?)", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"ros2_launch: {path}: no such launch file in package {package}", file=sys.stderr)
        return 2
    service = LaunchService(argv=args[2:])
    service.include_launch_description(
        LaunchDescription([IncludeLaunchDescription(PythonLaunchDescriptionSource(str(path)), launch_arguments=pairs)])
    )
    return service.run()


if __name__ == "__main__":
    raise SystemExit(main())
