"""The decode-once cache, the frame datasets and the map store."""

import json

import numpy as np
import pytest

from avsal.data.datasets import FrameDataset, MapStore, clip_indices
from avsal.data.prepared import DecodedItem, PreparedSet, write_prepared

CALLS: list[str] = []


def _decode(job):
    CALLS.append(job)
    n = 4
    frames = np.full((n, 6, 8, 3), ord(job[-1]), np.uint8)
    frames[:, 0, 0, 0] = np.arange(n)  # frame index encoded in a pixel
    audio = np.zeros((n, 1, 2, 3), np.float16)
    labels = [[0], [0, 1], [], [1]]
    return DecodedItem(job, frames, audio, [i / 4 for i in range(n)], labels, "train")


def test_shards_resume_and_fingerprint(tmp_path):
    CALLS.clear()
    jobs = ["clip_a", "clip_b", "clip_c"]
    ps = write_prepared(
        tmp_path / "p",
        jobs,
        _decode,
        job_id=str,
        settings={"fps": 4, "size": [6, 8]},
        shard_clips=2,
    )
    assert CALLS == jobs and sorted(p.name for p in (tmp_path / "p").glob("shard_*")) == [
        "shard_00000",
        "shard_00001",
    ]
    assert [c.clip_id for c in ps.clips] == jobs and ps.frame_size == (6, 8)
    # an interruption: shard 1 lost, a half-written .tmp left behind -> only shard 1 is redone
    import shutil

    shutil.rmtree(tmp_path / "p" / "shard_00001")
    (tmp_path / "p" / "shard_00001.tmp").mkdir()
    CALLS.clear()
    write_prepared(
        tmp_path / "p",
        jobs,
        _decode,
        job_id=str,
        settings={"fps": 4, "size": [6, 8]},
        shard_clips=2,
    )
    assert CALLS == ["clip_c"] and not (tmp_path / "p" / "shard_00001.tmp").exists()
    # a changed input file (its signature) redoes only the shard that holds it
    CALLS.clear()
    write_prepared(
        tmp_path / "p",
        jobs,
        _decode,
        job_id=str,
        settings={"fps": 4, "size": [6, 8]},
        shard_clips=2,
        job_signature=lambda j: "v2" if j == "clip_c" else "",
    )
    assert CALLS == jobs  # the first call with signatures: every shard's fingerprint is new
    CALLS.clear()
    write_prepared(
        tmp_path / "p",
        jobs,
        _decode,
        job_id=str,
        settings={"fps": 4, "size": [6, 8]},
        shard_clips=2,
        job_signature=lambda j: "v3" if j == "clip_c" else "",
    )
    assert CALLS == ["clip_c"]
    # a changed setting redoes everything
    CALLS.clear()
    write_prepared(
        tmp_path / "p",
        jobs,
        _decode,
        job_id=str,
        settings={"fps": 8, "size": [6, 8]},
        shard_clips=2,
    )
    assert CALLS == jobs


def test_prepared_reading_and_refs(tmp_path):
    ps = write_prepared(
        tmp_path / "p", ["x1", "y2"], _decode, job_id=str, settings={"size": [6, 8]}, shard_clips=1
    )
    ps = PreparedSet(tmp_path / "p")
    clip = ps.by_id["y2"]
    assert ps.frames(clip, 3)[0, 0, 0] == 3 and ps.frames(clip).shape == (4, 6, 8, 3)
    assert ps.frame_refs(labelled_only=True) == [(0, 0), (0, 1), (0, 3), (1, 0), (1, 1), (1, 3)]
    assert json.loads((tmp_path / "p" / "index.json").read_text())["settings"] == {"size": [6, 8]}


def test_clip_indices_clamp_at_ends():
    assert clip_indices(0, 10, 5) == [0, 0, 0, 1, 2]
    assert clip_indices(9, 10, 5) == [7, 8, 9, 9, 9]
    assert clip_indices(4, 10, 1) == [4]


def test_frame_dataset_crop_targets_and_errors(tmp_path):
    ps = write_prepared(
        tmp_path / "p", ["x1"], _decode, job_id=str, settings={"size": [6, 8]}, shard_clips=1
    )
    refs = [(0, 1), (0, 3)]
    boxes = np.array([[0, 0, 3, 4], [0, 0, 6, 8]])
    pseudo = np.zeros((2, 6, 8), np.float32)
    pseudo[0, :3, :4] = 1.0
    ds = FrameDataset(
        ps, refs, input_size=(6, 8), clip_frames=3, num_classes=2, boxes=boxes, pseudo=pseudo
    )
    s = ds[0]
    assert s["frame"].shape == (3, 6, 8) and s["clip"].shape == (3, 3, 6, 8)
    assert float(s["frame"].max()) <= 1.0  # RGB in [0, 1]; the nets normalise inside
    assert s["target"].tolist() == [0.5, 0.5]  # a two-tag frame
    assert float(s["pseudo"].min()) == 1.0  # the box cut out exactly the ones
    assert ds[1]["target"].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="odd"):
        FrameDataset(ps, refs, input_size=(6, 8), clip_frames=2)
    with pytest.raises(ValueError, match="boxes has 1 rows for 2 samples"):
        FrameDataset(ps, refs, input_size=(6, 8), boxes=boxes[:1])


def test_map_store_roundtrip_is_lossless(tmp_path):
    maps = np.random.default_rng(0).random((3, 4, 5)).astype(np.float16)
    MapStore(maps, [("a", 0), ("a", 1), ("b", 0)], {"boxes": np.arange(12).reshape(3, 4)}).save(
        tmp_path / "m"
    )
    back = MapStore.load(tmp_path / "m")
    assert np.array_equal(np.asarray(back.maps), maps) and back.maps.dtype == np.float16
    assert back.refs == [("a", 0), ("a", 1), ("b", 0)] and back.extra["boxes"][2, 3] == 11
    assert not list((tmp_path / "m").glob("*.tmp"))


def _varied(job):
    """A clip whose length and pixels depend on its name (so the shard's rows can be checked)."""
    n = 1 + sum(map(ord, job)) % 5
    rng = np.random.default_rng(sum(map(ord, job)))
    frames = rng.integers(0, 255, (n, 6, 8, 3), dtype=np.uint8)
    audio = rng.standard_normal((n, 1, 2, 3)).astype(np.float32)  # float32 in: float16 stored
    return DecodedItem(job, frames, audio, [i / 4 for i in range(n)], [[] for _ in range(n)])


@pytest.mark.parametrize("workers", [0, 2])
def test_a_shard_streamed_clip_by_clip_has_the_bytes_of_one_np_save(tmp_path, workers):
    import io
    from concurrent.futures import ThreadPoolExecutor

    jobs = [f"clip_{c}" for c in "abcdefg"]
    pool = ThreadPoolExecutor(workers) if workers else None
    try:
        ps = write_prepared(
            tmp_path / "p", jobs, _varied, job_id=str, settings={}, shard_clips=4,
            executor=pool, in_flight=2,
        )  # fmt: skip
    finally:
        if pool is not None:
            pool.shutdown()
    items = [_varied(j) for j in jobs]
    for shard, group in enumerate([items[:4], items[4:]]):
        for name, arrays in (
            ("frames", [it.frames for it in group]),
            ("audio", [it.audio for it in group]),
        ):
            buf = io.BytesIO()
            whole = np.concatenate(arrays)
            np.save(buf, whole if name == "frames" else whole.astype(np.float16))
            path = tmp_path / "p" / f"shard_{shard:05d}" / f"{name}.npy"
            assert path.read_bytes() == buf.getvalue(), (shard, name)
    assert [c.clip_id for c in ps.clips] == jobs
    np.testing.assert_array_equal(ps.frames(ps.clips[5]), items[5].frames)


def test_npy_appender_gives_np_save_bytes_for_any_blocks_and_refuses_other_rows(tmp_path):
    from avsal.data.prepared import _NpyAppender

    data = np.arange(10 * 4 * 3, dtype=np.uint8).reshape(10, 4, 3)
    for blocks in ([data], [data[:3], data[3:3], data[3:]]):
        path = tmp_path / f"{len(blocks)}.npy"
        w = _NpyAppender(path)
        for b in blocks:
            w.append(b)
        w.close()
        assert path.read_bytes() == _np_save(data)
    w = _NpyAppender(tmp_path / "bad.npy")
    w.append(data)
    with pytest.raises(
        ValueError, match=r"bad.npy: rows float16\(4, 3\) do not match the shard's uint8"
    ):
        w.append(data.astype(np.float16))


def _np_save(a):
    import io

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_in_order_keeps_order_and_bounds_what_is_in_flight():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from avsal.data.prepared import _in_order

    lock, live, peak = threading.Lock(), [0], [0]

    def job(i):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.01 if i else 0.05)  # the first is the slow one
        return i

    out = []
    with ThreadPoolExecutor(4) as pool:
        for i in _in_order(pool, job, list(range(12)), 3):
            with lock:
                live[0] -= 1  # taken by the writer
            out.append(i)
    assert out == list(range(12)) and peak[0] <= 3


def test_a_shard_is_written_as_its_clips_arrive_not_after_the_last(tmp_path):
    from avsal.data.prepared import _write_shard

    dst = tmp_path / "shard_00000"
    items = [_varied(f"clip_{c}") for c in "abc"]
    seen = []

    def arriving():
        rows = 0
        for it in items:
            if rows:  # the rows of the clips before this one are on disk already
                written = (dst.with_name(dst.name + ".tmp") / "frames.npy").stat().st_size
                seen.append(written >= 128 + rows * 6 * 8 * 3)
            yield it
            rows += len(it.frames)

    entries = _write_shard(dst, arriving(), 0, "fp", lambda: None)
    assert seen == [True, True] and [e.clip_id for e in entries] == ["clip_a", "clip_b", "clip_c"]
