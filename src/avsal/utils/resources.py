"""Peak memory of a process tree, sampled from /proc: what a stage holds, for N and 4N clips.

Why sampled and split: ``ru_maxrss`` counts the resident pages of memory-mapped files (the
frame cache, map stores) as the process's own, though they are page cache the kernel drops
under pressure; a stage that streams through a 67 GB cache would look like it holds it.  The
anonymous memory (``RssAnon``: heap, tensors, arrays) is what a stage really holds and what must
not grow with the data; the file-backed part is reported beside it.  Children (decode workers,
data loader workers) are summed in.  Linux only; elsewhere the sampler records nothing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PeakSampler", "tree_memory"]

_FIELDS = {"RssAnon:": "anon", "RssFile:": "file", "RssShmem:": "shmem"}


def _status(pid: int) -> dict[str, int]:
    """kB of anonymous, file-backed and shared memory of ``pid`` (empty if it is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key = line.split(None, 1)[0]
                if key in _FIELDS:
                    out[_FIELDS[key]] = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    return out


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return kids


def tree_memory(pid: int | None = None) -> dict[str, int]:
    """kB (anon, file, shmem) of ``pid`` (default: this process) and all its descendants."""
    total = {"anon": 0, "file": 0, "shmem": 0, "processes": 0}
    stack = [os.getpid() if pid is None else pid]
    seen: set[int] = set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        st = _status(p)
        if not st:
            continue
        total["processes"] += 1
        for k, v in st.items():
            total[k] += v
        stack += _children(p)
    return total


class PeakSampler:
    """Context manager: samples :func:`tree_memory` every ``interval`` s in a thread; ``peak``
    holds the maxima (MiB) of the anonymous, file-backed and total resident memory."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = {"anon_mib": 0.0, "file_mib": 0.0, "rss_mib": 0.0, "processes": 0}
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="peak-sampler", daemon=True)

    def sample(self) -> None:
        m = tree_memory()
        anon, file = m["anon"] / 1024, (m["file"] + m["shmem"]) / 1024
        p = self.peak
        p["anon_mib"] = max(p["anon_mib"], round(anon, 1))
        p["file_mib"] = max(p["file_mib"], round(file, 1))
        p["rss_mib"] = max(p["rss_mib"], round(anon + file, 1))
        p["processes"] = max(p["processes"], m["processes"])

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakSampler:
        self._t0 = time.perf_counter()
        self.sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        self.seconds = round(time.perf_counter() - self._t0, 2)
