"""A map store written chunk by chunk is byte for byte the store written at once; a failed or
unfinished write leaves nothing; the chunking helpers cut where the stages need them."""

from __future__ import annotations

import numpy as np
import pytest

from avsal.data.datasets import MapStore, RowView
from avsal.data.map_writer import MapStoreWriter, chunk_rows


def _store(n: int = 10):
    rng = np.random.default_rng(0)
    maps = rng.random((n, 3, 5, 7)).astype(np.float16)
    extra = {
        "tags": np.arange(n, dtype=np.int64),
        "informative": rng.random(n) > 0.5,
        "boxes": rng.integers(0, 9, size=(n, 4)).astype(np.int32),
    }
    return MapStore(maps, [(f"clip{k // 4}", k % 4) for k in range(n)], extra)


def _spec(store):
    return {k: (v.shape[1:], v.dtype) for k, v in store.extra.items()}


@pytest.mark.parametrize("step", [1, 3, 10])
def test_chunked_store_has_the_bytes_of_np_save(tmp_path, step):
    store = _store()
    store.save(tmp_path / "whole")
    with MapStoreWriter(
        tmp_path / "chunks", 10, maps=((3, 5, 7), np.float16), extra=_spec(store)
    ) as w:
        for s in range(0, 10, step):
            w.append(
                maps=store.maps[s : s + step],
                **{k: v[s : s + step] for k, v in store.extra.items()},
            )
        w.finish(store.refs)
    for name in ("maps.npy", "tags.npy", "informative.npy", "boxes.npy", "refs.json"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "chunks" / name).read_bytes()
    back = MapStore.load(tmp_path / "chunks")
    assert np.array_equal(back.maps, store.maps) and back.refs == store.refs
    assert not (tmp_path / "chunks.partial").exists()


def test_a_failed_or_unfinished_write_leaves_nothing_and_keeps_the_old_store(tmp_path):
    store = _store()
    store.save(tmp_path / "out")
    before = (tmp_path / "out" / "maps.npy").read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        with MapStoreWriter(tmp_path / "out", 10, maps=((3, 5, 7), np.float16)) as w:
            w.append(maps=store.maps[:4])
            raise RuntimeError("boom")
    with MapStoreWriter(tmp_path / "out", 10, maps=((3, 5, 7), np.float16)) as w:
        w.append(maps=store.maps[:4])  # never finished
    assert not (tmp_path / "out.partial").exists()
    assert (tmp_path / "out" / "maps.npy").read_bytes() == before


def test_wrong_rows_shapes_and_names_are_refused(tmp_path):
    store = _store()
    with MapStoreWriter(tmp_path / "s", 4, maps=((3, 5, 7), np.float16)) as w:
        with pytest.raises(ValueError, match=r"rows are \(3, 5, 6\), expected \(3, 5, 7\)"):
            w.append(maps=np.zeros((2, 3, 5, 6)))
        with pytest.raises(ValueError, match="append needs"):
            w.append(maps=store.maps[:2], tags=store.extra["tags"][:2])
        with pytest.raises(ValueError, match="5 rows written, 4 declared"):
            w.append(maps=store.maps[:5])
        w.append(maps=store.maps[:3])
        with pytest.raises(ValueError, match="3 rows written and 3 refs, 4 declared"):
            w.finish(store.refs[:3])


def test_chunk_rows_are_whole_batches():
    assert chunk_rows(row_bytes=100, batch_size=8, chunk_bytes=1) == 8  # at least one batch
    assert chunk_rows(row_bytes=100, batch_size=8, chunk_bytes=100 * 8 * 5 + 7) == 40
    assert chunk_rows(row_bytes=100, batch_size=1, chunk_bytes=350) == 3


def test_clip_groups_keep_clips_whole_and_refuse_scattered_clips():
    from avsal.stages.scam_maps import clip_groups

    refs = [("a", 0), ("a", 1), ("a", 1), ("b", 0), ("c", 0), ("c", 1), ("c", 2)]
    assert list(clip_groups(refs, rows=1)) == [(0, 3), (3, 4), (4, 7)]
    assert list(clip_groups(refs, rows=4)) == [(0, 4), (4, 7)]
    assert list(clip_groups(refs, rows=100)) == [(0, 7)]
    assert list(clip_groups([], rows=3)) == []
    with pytest.raises(ValueError, match="clip a are not contiguous"):
        list(clip_groups([("a", 0), ("b", 0), ("a", 1)], rows=1))


def test_row_view_reads_the_chosen_rows():
    arr = np.arange(24, dtype=np.float32).reshape(6, 2, 2)
    view = RowView(arr, [4, 1])
    assert len(view) == 2 and view.shape == (2, 2, 2)
    assert np.array_equal(view[0], arr[4]) and np.array_equal(view[1], arr[1])
    assert [v.sum() for v in view] == [arr[4].sum(), arr[1].sum()]
