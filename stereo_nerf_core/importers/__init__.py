"""Importers: other datasets' folder layouts turned into ROS 2 bags with our topic names.

Each format module (:mod:`.studies`, :mod:`.endonerf`, :mod:`.scared`, :mod:`.dtu`) reads its layout
into a :class:`~stereo_nerf_core.importers.writer.Recording`; :func:`~.writer.write_recording` writes
any recording as a bag (deterministic stamps, camera_info per image, /tf, /tf_static). COLMAP
reconstructions can replace a recording's poses (:mod:`.colmap`). ``stereo-nerf import`` is the CLI.
"""
