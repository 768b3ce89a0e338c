"""visualization_msgs/Marker TRIANGLE_LIST <-> a triangle mesh with per-vertex colours.

A TRIANGLE_LIST marker lists three points per triangle (no shared vertices) and, for per-vertex
colours, one ColorRGBA per point; ``pose`` is the identity, ``scale`` 1 and ``color`` white opaque
(RViz multiplies it with the per-point colours). Points are in the header's frame, metres.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from stereo_nerf_core.io.errors import MessageError
from stereo_nerf_core.io.messages import MessageClasses

TRIANGLE_LIST = 11
ADD, DELETEALL = 0, 3


def mesh_to_marker(
    classes: MessageClasses,
    vertices: NDArray[np.floating],
    triangles: NDArray[np.integer],
    colors: NDArray[np.floating] | None,
    *,
    stamp_ns: int,
    frame_id: str,
    ns: str = "mesh",
    marker_id: int = 0,
) -> Any:
    """A TRIANGLE_LIST marker of (V, 3) vertices, (F, 3) vertex indices and (V, 3) colours in [0, 1] (None: grey)."""
    points = np.asarray(vertices, np.float64)
    faces = np.asarray(triangles)
    if points.ndim != 2 or points.shape[1] != 3:
        raise MessageError(f"mesh marker {ns!r}: vertices must be (V, 3), got {points.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or (faces.size and (faces.min() < 0 or faces.max() >= len(points))):
        raise MessageError(f"mesh marker {ns!r}: triangles must be (F, 3) indices below {len(points)}")
    rgb = np.full((len(points), 3), 0.7) if colors is None else np.asarray(colors, np.float64)
    if rgb.shape != points.shape:
        raise MessageError(f"mesh marker {ns!r}: colors must be (V, 3) like vertices {points.shape}, got {rgb.shape}")
    corners = faces.reshape(-1)
    Point, Color = classes.Point, classes.ColorRGBA
    marker_points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in points[corners]]
    marker_colors = [
        Color(r=float(r), g=float(g), b=float(b), a=1.0) for r, g, b in np.clip(rgb[corners], 0.0, 1.0)
    ]
    return classes.Marker(
        header=classes.header(stamp_ns, frame_id),
        ns=ns,
        id=int(marker_id),
        type=TRIANGLE_LIST,
        action=ADD,
        pose=classes.Pose(
            position=classes.Point(x=0.0, y=0.0, z=0.0), orientation=classes.Quaternion(x=0.0, y=0.0, z=0.0, w=1.0)
        ),
        scale=classes.Vector3(x=1.0, y=1.0, z=1.0),
        color=Color(r=1.0, g=1.0, b=1.0, a=1.0),
        lifetime=classes.Duration(sec=0, nanosec=0),
        frame_locked=False,
        points=marker_points,
        colors=marker_colors,
        texture_resource="",
        texture=classes.CompressedImage(
            header=classes.header(0, ""), format="", data=classes.uint8_array(b"")
        ),
        uv_coordinates=[],
        text="",
        mesh_resource="",
        mesh_file=classes.MeshFile(filename="", data=classes.uint8_array(b"")),
        mesh_use_embedded_materials=False,
    )


def marker_to_triangles(msg: Any, *, topic: str | None = None) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
    """(F, 3, 3) triangle corners and (F, 3, 4) RGBA colours of a TRIANGLE_LIST marker.

    Without per-point colours every corner gets the marker's ``color``.
    """
    where = f"{topic}: " if topic else ""
    if int(msg.type) != TRIANGLE_LIST:
        raise MessageError(f"{where}marker type {msg.type} is not TRIANGLE_LIST ({TRIANGLE_LIST})")
    count = len(msg.points)
    if count % 3:
        raise MessageError(f"{where}TRIANGLE_LIST marker has {count} points, not a multiple of 3")
    if len(msg.colors) not in (0, count):
        raise MessageError(f"{where}TRIANGLE_LIST marker has {count} points but {len(msg.colors)} colors")
    corners = np.array([[p.x, p.y, p.z] for p in msg.points], np.float64).reshape(-1, 3, 3)
    if len(msg.colors):
        rgba = np.array([[c.r, c.g, c.b, c.a] for c in msg.colors], np.float32)
    else:
        c = msg.color
        rgba = np.tile(np.array([c.r, c.g, c.b, c.a], np.float32), (count, 1))
    return corners, rgba.reshape(-1, 3, 4)
