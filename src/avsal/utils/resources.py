"""Peak memory of a process tree, sampled from /proc: what a stage holds, for N and 4N clips.

Why sampled and split: ``ru_maxrss`` counts the resident pages of memory-mapped files (the
frame cache, map stores) as the process's own, though they are page cache the kernel drops
under pressure; a stage that streams through a 67 GB cache would look like it holds it.  The
anonymous memory (heap, tensors, arrays) is what a stage really holds and what must not grow
with the data; the file-backed part is reported beside it.  Children (decode workers, data
loader workers) are summed in, each address space once: a ``vfork``-ed child (``subprocess``
before its ``exec``) shares its parent's and is skipped, and when several address spaces are
alive their proportional shares (``Pss``) are summed, so that pages a ``fork``-ed worker still
shares copy-on-write with its parent are not counted twice.  A lone process reads the cheap
``/proc/<pid>/status``; ``smaps_rollup`` walks the page tables (~10 ms per GB), so the sampler
waits at least ten times a sample's cost between samples.  Linux only; elsewhere nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PeakSampler", "tree_memory"]

_STATUS = {"RssAnon:": "anon", "RssFile:": "file", "RssShmem:": "shmem"}
_ROLLUP = {"Pss_Anon:": "anon", "Pss_File:": "file", "Pss_Shmem:": "shmem"}
_KCMP = {"x86_64": 312, "aarch64": 272}.get(platform.machine())  # kcmp(2) syscall number
_KCMP_VM = 1


def _fields(path: str, names: dict[str, str]) -> dict[str, int]:
    """kB of the ``names`` lines of a /proc file (empty if the process is gone or hidden)."""
    out: dict[str, int] = {}
    try:
        with open(path) as fh:
            for line in fh:
                key = line.split(None, 1)[0]
                if key in names:
                    out[names[key]] = int(line.split()[1])
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


def _same_address_space(a: int, b: int) -> bool:
    """Whether ``a`` and ``b`` share one address space (kcmp KCMP_VM); False if unknown."""
    libc = _libc()
    return libc is not None and libc.syscall(_KCMP, a, b, _KCMP_VM, 0, 0) == 0


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if _KCMP is None:
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _tree(root: int) -> list[int]:
    """``root`` and its living descendants, one pid per address space."""
    spaces: list[int] = []
    stack, seen = [root], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        if not os.path.exists(f"/proc/{p}"):
            continue
        if not any(_same_address_space(p, q) for q in spaces):
            spaces.append(p)
        stack += _children(p)
    return spaces


def tree_memory(pid: int | None = None) -> dict[str, int]:
    """kB (anon, file, shmem) of ``pid`` (default: this process) and all its descendants,
    and how many address spaces they hold (``processes``)."""
    spaces = _tree(os.getpid() if pid is None else pid)
    total = {"anon": 0, "file": 0, "shmem": 0, "processes": 0}
    for p in spaces:
        st = _fields(f"/proc/{p}/smaps_rollup", _ROLLUP) if len(spaces) > 1 else {}
        if len(st) < len(_ROLLUP):  # one process, or a kernel without Pss_Anon (< 5.x)
            st = _fields(f"/proc/{p}/status", _STATUS)
        if not st:
            continue
        total["processes"] += 1
        for k, v in st.items():
            total[k] += v
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
        wait = self.interval
        while not self._stop.wait(wait):
            t0 = time.perf_counter()
            self.sample()
            wait = max(self.interval, 10 * (time.perf_counter() - t0))  # <= ~10% of a core

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
