"""Writing a :class:`~avsal.data.datasets.MapStore` chunk by chunk, so no stage holds a set's maps.

Why: at the paper's scale the CAMs of AVE are ~165k rows x 3 nets x 360x360 (hundreds of GB as
float16); a stage that built them in one array before saving could never run.  The writer puts
the ``.npy`` header first and then each chunk's rows at the end of the file, giving exactly the
bytes ``np.save`` would of the whole array (a test compares them), so a store written in chunks
is the store written at once.  Everything goes to ``<folder>.partial`` and is renamed at the
end: an interrupted stage leaves no half-written store, and its rerun starts clean.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import numpy as np

from avsal.utils.io import atomic_write_json

__all__ = ["CHUNK_BYTES", "MapStoreWriter", "chunk_rows"]

#: working memory of one chunk of rows (float32 while computed): what a map stage holds
CHUNK_BYTES = 256 << 20


def chunk_rows(row_bytes: int, batch_size: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Rows per chunk: about ``chunk_bytes`` of them, a whole number of inference batches (so
    every batch holds the rows it would hold in one pass over the set: the same numbers)."""
    batches = max(1, chunk_bytes // max(1, row_bytes * batch_size))
    return int(batches * batch_size)


class MapStoreWriter:
    """``with MapStoreWriter(folder, n_rows, maps=(row_shape, dtype), extra={...}) as w:
    w.append(maps=..., **extra); ...; w.finish(refs)``.

    ``extra`` names further per-row arrays (probs, tags, boxes, flags) with their row shape and
    dtype; every ``append`` gives the same number of rows to all of them, in row order.
    """

    def __init__(
        self,
        folder: str | Path,
        n_rows: int,
        *,
        maps: tuple[tuple[int, ...], Any],
        extra: dict[str, tuple[tuple[int, ...], Any]] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.partial = self.folder.with_name(self.folder.name + ".partial")
        self.n_rows = int(n_rows)
        self.specs = {"maps": maps, **(extra or {})}
        self.rows = 0
        self._files: dict[str, BinaryIO] = {}

    def __enter__(self) -> MapStoreWriter:
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.partial.mkdir(parents=True)
        for name, (row_shape, dtype) in self.specs.items():
            fh = open(self.partial / f"{name}.npy", "wb")
            header = {
                "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                "fortran_order": False,
                "shape": (self.n_rows, *tuple(int(s) for s in row_shape)),
            }
            np.lib.format.write_array_header_1_0(fh, header)
            self._files[name] = fh
        return self

    def append(self, **arrays: np.ndarray) -> None:
        """The next rows of every array (all named, the same number of rows each)."""
        if set(arrays) != set(self.specs):
            raise ValueError(
                f"{self.folder}: append needs {sorted(self.specs)}, got {sorted(arrays)}"
            )
        counts = {len(a) for a in arrays.values()}
        if len(counts) != 1:
            raise ValueError(f"{self.folder}: arrays of one append differ in rows: {counts}")
        n = counts.pop()
        if self.rows + n > self.n_rows:
            raise ValueError(f"{self.folder}: {self.rows + n} rows written, {self.n_rows} declared")
        for name, arr in arrays.items():
            row_shape, dtype = self.specs[name]
            arr = np.ascontiguousarray(arr, dtype=dtype)
            if arr.shape[1:] != tuple(row_shape):
                raise ValueError(
                    f"{self.folder}: '{name}' rows are {arr.shape[1:]}, expected {tuple(row_shape)}"
                )
            self._files[name].write(arr.tobytes())
        self.rows += n

    def finish(self, refs: list[tuple[str, int]]) -> Path:
        """Close the files, write ``refs.json`` and move the store into place."""
        if self.rows != self.n_rows or len(refs) != self.n_rows:
            raise ValueError(
                f"{self.folder}: {self.rows} rows written and {len(refs)} refs, "
                f"{self.n_rows} declared"
            )
        for fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())
        self._close()
        extra = sorted(k for k in self.specs if k != "maps")
        atomic_write_json(
            self.partial / "refs.json", {"refs": [list(r) for r in refs], "extra": extra}
        )
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.partial.rename(self.folder)
        return self.folder

    def _close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files = {}

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()
        if exc_type is not None or self.partial.exists():  # failed, or never finished
            shutil.rmtree(self.partial, ignore_errors=True)
