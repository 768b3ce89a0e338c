from stereo_nerf_core.config import SyncConfig
from stereo_nerf_core.frontend.sync import ApproximateTimeSync

MS = 1_000_000


def test_pairs_within_slop_and_counts_an_unmatched_image() -> None:
    sync: ApproximateTimeSync[str] = ApproximateTimeSync(SyncConfig(slop_s=0.005, queue_size=10))
    assert sync.push("left", 0, "L0") is None
    pair = sync.push("right", 1 * MS, "R0")  # 1 ms apart: paired
    assert pair is not None and (pair.stamp_ns, pair.left, pair.right) == (0, "L0", "R0")
    assert sync.push("left", 100 * MS, "L1") is None  # its right image was dropped upstream
    assert sync.push("left", 200 * MS, "L2") is None
    pair = sync.push("right", 199 * MS, "R2")
    assert pair is not None and pair.left == "L2"
    assert sync.stats.as_dict() == {"pairs": 2, "dropped_left": 1, "dropped_right": 0}


def test_images_further_apart_than_slop_are_not_paired() -> None:
    sync: ApproximateTimeSync[int] = ApproximateTimeSync(SyncConfig(slop_s=0.002, queue_size=10))
    assert sync.push("left", 0, 0) is None
    assert sync.push("right", 3 * MS, 1) is None
    sync.flush()
    assert sync.stats.as_dict() == {"pairs": 0, "dropped_left": 1, "dropped_right": 1}


def test_queue_overflow_drops_the_oldest() -> None:
    sync: ApproximateTimeSync[int] = ApproximateTimeSync(SyncConfig(slop_s=0.001, queue_size=2))
    for i in range(5):
        sync.push("left", i * 100 * MS, i)
    assert sync.stats.dropped_left == 3
    pair = sync.push("right", 400 * MS, 99)
    assert pair is not None and pair.left == 4
