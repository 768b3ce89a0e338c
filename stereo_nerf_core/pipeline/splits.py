"""A bag's own held-out list: the test split an importer recorded in ``metadata.yaml``.

The studies importer writes ``custom_data`` ``stereo_nerf.splits`` (JSON ``{"test": [left image
names], ...}``) and ``stereo_nerf.frames`` (JSON ``{name: stamp_ns}``); the replay holds out the
frames at those stamps instead of every ``replay.held_out_every``-th one.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from stereo_nerf_core.pipeline.errors import ReplayError

SPLITS_KEY = "stereo_nerf.splits"
FRAMES_KEY = "stereo_nerf.frames"


def held_out_stamps(bag: Path) -> set[int] | None:
    """Stamps (ns) of the bag's test frames; None when the bag has no test list (or is a bare file)."""
    metadata = bag / "metadata.yaml" if bag.is_dir() else None
    if metadata is None or not metadata.is_file():
        return None
    try:
        document = yaml.safe_load(metadata.read_text()) or {}
        custom = (document.get("rosbag2_bagfile_information") or {}).get("custom_data") or {}
        if SPLITS_KEY not in custom:
            return None
        names = json.loads(custom[SPLITS_KEY]).get("test")
        stamps = json.loads(custom.get(FRAMES_KEY, "{}"))
    except (yaml.YAMLError, json.JSONDecodeError, AttributeError) as error:
        raise ReplayError(f"{metadata}: unreadable custom_data {SPLITS_KEY} / {FRAMES_KEY}: {error}") from error
    if not names:
        return None
    missing = [name for name in names if name not in stamps]
    if missing:
        raise ReplayError(f"{metadata}: test frames {missing[:5]} have no stamp in custom_data {FRAMES_KEY}")
    return {int(stamps[name]) for name in names}
