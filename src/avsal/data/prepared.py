"""The decode-once cache: sharded, memory-mappable arrays of frames and audio features.

Layout of a prepared set (``artifacts/prepared/<name>/``)::

    shard_00000/frames.npy   uint8   [N, H, W, 3]   frames at the profile's fps and size
    shard_00000/audio.npy    float16 [N, 1, F, Ta]  log spectrogram of the audio around each frame
    shard_00000/meta.json    the clips of the shard (id, offset, length, times, labels) + fingerprint
    index.json               every clip in order: shard, offset, n_frames, times, labels, split

Why shards: the real AVE is about 1.2 M frames at native rate; one array would be rewritten
whole after any interruption.  A shard is written to ``.tmp`` and renamed, so each shard is
either complete or absent, and a rerun skips complete shards whose fingerprint matches.
A shard is written clip by clip as the decoders finish (:class:`_NpyAppender`: the bytes of
``np.save`` of the whole shard), with a few clips in flight: a shard of 64 fixation videos (a
whole set, tens of GB of frames) is never in memory, only the clips being decoded.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from avsal.utils.hashing import digest
from avsal.utils.io import atomic_write_json

__all__ = ["ClipEntry", "DecodedItem", "PreparedSet", "write_prepared"]


@dataclass
class ClipEntry:
    """One clip (AVE video or fixation-set video) inside a prepared set."""

    clip_id: str
    shard: int
    offset: int  # first row of this clip in its shard
    n_frames: int
    times: list[float]  # seconds, one per frame
    labels: list[list[int]] = field(default_factory=list)  # class indices per frame ([] = none)
    split: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class DecodedItem:
    """What a decode job returns for one clip (frames + features + per-frame labels)."""

    clip_id: str
    frames: np.ndarray  # uint8 [T, H, W, 3]
    audio: np.ndarray  # float16 [T, 1, F, Ta]
    times: list[float]
    labels: list[list[int]]
    split: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class _NpyAppender:
    """An ``.npy`` file written rows first, shape last: ``append`` puts each block's rows at the
    end, ``close`` writes the header of the final row count over the placeholder (numpy pads a
    header so that its first axis can grow to 21 digits in place). The bytes are those of
    ``np.save`` of the concatenated blocks (a test compares them)."""

    def __init__(self, path: Path) -> None:
        self.path, self.rows = path, 0
        self.fh: Any = None
        self.row_shape: tuple[int, ...] = ()
        self.dtype: np.dtype | None = None
        self.header_len = 0

    def _header(self, n: int) -> bytes:
        buf = io.BytesIO()
        descr = np.lib.format.dtype_to_descr(self.dtype)
        header = {"descr": descr, "fortran_order": False, "shape": (n, *self.row_shape)}
        np.lib.format.write_array_header_1_0(buf, header)
        return buf.getvalue()

    def append(self, block: np.ndarray) -> None:
        if self.fh is None:
            self.row_shape, self.dtype = tuple(block.shape[1:]), block.dtype
            self.fh = open(self.path, "wb")
            placeholder = self._header(0)
            self.header_len = len(placeholder)
            self.fh.write(placeholder)
        elif tuple(block.shape[1:]) != self.row_shape or block.dtype != self.dtype:
            raise ValueError(
                f"{self.path}: rows {block.dtype}{tuple(block.shape[1:])} do not match the "
                f"shard's {self.dtype}{self.row_shape}"
            )
        self.fh.write(np.ascontiguousarray(block).reshape(-1).view(np.uint8))  # no copy
        self.fh.flush()  # a clip's rows leave memory with it
        self.rows += len(block)

    def close(self) -> None:
        if self.fh is None:
            raise ValueError(f"{self.path}: no rows were written")
        final = self._header(self.rows)
        if len(final) != self.header_len:  # numpy pads the header for 21 digits of rows
            raise RuntimeError(
                f"{self.path}: the .npy header grew ({self.header_len} -> {len(final)})"
            )
        self.fh.seek(0)
        self.fh.write(final)
        self.fh.close()


def _write_shard(
    dst: Path, items: Iterable[DecodedItem], shard: int, fp: str, on_item: Callable[[], None]
) -> list[ClipEntry]:
    """Write ``items`` (consumed one at a time) as shard ``shard`` at ``dst``."""
    tmp = dst.with_name(dst.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    frames, audio = _NpyAppender(tmp / "frames.npy"), _NpyAppender(tmp / "audio.npy")
    entries, off = [], 0
    try:
        for it in items:
            frames.append(np.asarray(it.frames))
            audio.append(np.asarray(it.audio).astype(np.float16))
            entries.append(
                ClipEntry(
                    it.clip_id,
                    shard,
                    off,
                    len(it.frames),
                    list(it.times),
                    it.labels,
                    it.split,
                    it.extra,
                )
            )
            off += len(it.frames)
            on_item()
        frames.close()
        audio.close()
    except BaseException:
        for f in (frames, audio):
            if f.fh is not None:
                f.fh.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_json(tmp / "meta.json", {"fingerprint": fp, "clips": [asdict(e) for e in entries]})
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
    return entries


def _in_order(
    pool: Executor, decode: Callable[[Any], DecodedItem], jobs: Sequence[Any], in_flight: int
) -> Iterator[DecodedItem]:
    """``pool.map(decode, jobs)`` with at most ``in_flight`` jobs submitted and not yet taken:
    ``Executor.map`` submits them all, and finished clips would pile up behind a slow one."""
    pending: deque[Future] = deque()
    todo = iter(jobs)
    try:
        for job in todo:
            pending.append(pool.submit(decode, job))
            if len(pending) >= in_flight:
                break
        while pending:
            result = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(decode, nxt))
            yield result
    finally:
        for f in pending:
            f.cancel()


def _complete_shard(dst: Path, fp: str, ids: list[str]) -> list[ClipEntry] | None:
    meta = dst / "meta.json"
    if not meta.is_file():
        return None
    data = json.loads(meta.read_text())
    if data.get("fingerprint") != fp or [c["clip_id"] for c in data["clips"]] != ids:
        return None
    return [ClipEntry(**c) for c in data["clips"]]


def write_prepared(
    out: str | Path,
    jobs: Sequence[Any],
    decode: Callable[[Any], DecodedItem],
    *,
    job_id: Callable[[Any], str],
    settings: dict[str, Any],
    job_signature: Callable[[Any], str] | None = None,
    shard_clips: int = 64,
    executor: Executor | None = None,
    in_flight: int = 4,
    desc: str = "prepare",
) -> PreparedSet:
    """Decode ``jobs`` with ``decode`` (on ``executor``, e.g. a process pool) into shards.

    At most ``in_flight`` clips are decoded or waiting to be written at a time (give the
    executor's worker count + 1 or so), so memory is a few clips', not a shard's.

    ``settings`` (fps, size, audio variant, ...) and ``job_signature`` of each job (e.g. the
    input file's content) go into each shard's fingerprint, so a rerun skips finished
    shards, and a changed setting or a changed input file redoes the shards it affects.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fp = digest(settings)
    groups = [list(jobs[i : i + shard_clips]) for i in range(0, len(jobs), shard_clips)]
    entries: list[ClipEntry] = []
    pool = executor
    with tqdm(total=len(jobs), desc=desc, unit="clip", leave=False, disable=None) as bar:
        for s, group in enumerate(groups):
            dst = out / f"shard_{s:05d}"
            shard_fp = digest([fp, [job_signature(j) for j in group]]) if job_signature else fp
            done = _complete_shard(dst, shard_fp, [job_id(j) for j in group])
            if done is None:
                results = (
                    _in_order(pool, decode, group, max(1, in_flight))
                    if pool is not None
                    else map(decode, group)
                )
                done = _write_shard(dst, results, s, shard_fp, lambda: bar.update(1))
            else:
                bar.update(len(group))
            entries.extend(done)
    for stale in sorted(out.glob("shard_*")):
        if int(stale.name.split("_")[1].split(".")[0]) >= len(groups) or stale.name.endswith(
            ".tmp"
        ):
            shutil.rmtree(stale)
    atomic_write_json(
        out / "index.json",
        {"fingerprint": fp, "settings": settings, "clips": [asdict(e) for e in entries]},
    )
    return PreparedSet(out)


class PreparedSet:
    """Read side of the cache: memory-mapped shards and the clip index."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        index = self.root / "index.json"
        if not index.is_file():
            raise FileNotFoundError(f"{index}: prepared set not found; run the prepare stage first")
        data = json.loads(index.read_text())
        self.settings: dict[str, Any] = data["settings"]
        self.clips = [ClipEntry(**c) for c in data["clips"]]
        self.by_id = {c.clip_id: c for c in self.clips}
        self._frames: dict[int, np.ndarray] = {}
        self._audio: dict[int, np.ndarray] = {}

    def _shard(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        if s not in self._frames:
            d = self.root / f"shard_{s:05d}"
            self._frames[s] = np.load(d / "frames.npy", mmap_mode="r")
            self._audio[s] = np.load(d / "audio.npy", mmap_mode="r")
        return self._frames[s], self._audio[s]

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers reopen the memmaps
        state = dict(self.__dict__)
        state["_frames"], state["_audio"] = {}, {}
        return state

    def frames(self, clip: ClipEntry, idx: Iterable[int] | int | None = None) -> np.ndarray:
        """uint8 frames of ``clip`` ([H, W, 3] for an int, else [k, H, W, 3])."""
        f, _ = self._shard(clip.shard)
        if idx is None:
            return np.asarray(f[clip.offset : clip.offset + clip.n_frames])
        if isinstance(idx, (int, np.integer)):
            return np.asarray(f[clip.offset + int(idx)])
        return np.asarray(f[[clip.offset + int(i) for i in idx]])

    def audio(self, clip: ClipEntry, i: int) -> np.ndarray:
        """float32 [1, F, Ta] audio features of frame ``i``."""
        _, a = self._shard(clip.shard)
        return np.asarray(a[clip.offset + int(i)], dtype=np.float32)

    def frame_refs(
        self, *, split: str | None = None, labelled_only: bool = False
    ) -> list[tuple[int, int]]:
        """(clip number, frame index) pairs, in index order (deterministic)."""
        refs = []
        for ci, c in enumerate(self.clips):
            if split is not None and c.split != split:
                continue
            for i in range(c.n_frames):
                if labelled_only and not c.labels[i]:
                    continue
                refs.append((ci, i))
        return refs

    @property
    def frame_size(self) -> tuple[int, int]:
        h, w = self.settings["size"]
        return int(h), int(w)
