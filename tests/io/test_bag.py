from pathlib import Path

import numpy as np
import pytest

from stereo_nerf_core.io.bag import ROSBAGS_CLASSES, BagWriter, bag_topics, read_messages
from stereo_nerf_core.io.errors import BagError
from stereo_nerf_core.io.messages import array_to_image, image_to_array


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_written_messages_come_back_in_log_order_with_counts(tmp_path: Path, storage: str) -> None:
    bag = tmp_path / "bag"
    with BagWriter(bag, storage=storage) as writer:  # type: ignore[arg-type]
        for stamp in (30, 10, 20):
            image = np.full((2, 3), stamp, np.uint8)
            writer.write(
                "/a", array_to_image(ROSBAGS_CLASSES, image, encoding="mono8", stamp_ns=stamp, frame_id="f"), stamp
            )
        writer.write("/b", array_to_image(ROSBAGS_CLASSES, image, encoding="mono8", stamp_ns=5, frame_id="f"), 5)
    summary = bag_topics(bag)
    assert {topic: (item.msgtype, item.count) for topic, item in summary.items()} == {
        "/a": ("sensor_msgs/msg/Image", 3),
        "/b": ("sensor_msgs/msg/Image", 1),
    }
    stamps = [(m.topic, m.log_time_ns, int(image_to_array(m.msg)[0, 0])) for m in read_messages(bag, ["/a"])]
    assert stamps == [("/a", 10, 10), ("/a", 20, 20), ("/a", 30, 30)]


def test_writer_never_overwrites_and_rejects_unknown_storage(tmp_path: Path) -> None:
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="exists already"):
        BagWriter(tmp_path / "exists")
    with pytest.raises(BagError, match="unknown bag storage 'rosbag1'"):
        BagWriter(tmp_path / "new", storage="rosbag1")  # type: ignore[arg-type]


def test_missing_and_corrupt_bags_are_named(tmp_path: Path) -> None:
    with pytest.raises(BagError, match="no such bag"):
        bag_topics(tmp_path / "missing")
    junk = tmp_path / "junk.db3"
    junk.write_bytes(b"not a database" * 100)
    with pytest.raises(BagError, match=r"junk\.db3: cannot open bag"):
        list(read_messages(junk))


def test_a_damaged_record_in_a_cut_off_mcap_is_named(tmp_path: Path) -> None:
    import struct

    damaged = tmp_path / "damaged.mcap"
    # a complete chunk record whose compressed payload is garbage
    body = struct.pack("<QQQI", 0, 0, 100, 0) + struct.pack("<I", 4) + b"zstd" + struct.pack("<Q", 5) + b"junk!"
    damaged.write_bytes(b"\x89MCAP0\r\n" + bytes([0x06]) + struct.pack("<Q", len(body)) + body)
    with pytest.raises(BagError, match=r"damaged\.mcap: damaged mcap record at byte 8"):
        list(read_messages(damaged))
