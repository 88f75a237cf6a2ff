"""Process-wide allocator settings for programs that churn through large tensors.

glibc returns freed blocks above its (adaptive, at most 32 MB) mmap threshold to the system and
trims the heap top once it passes twice that. A loop that allocates and frees ``[t, H, W]``
float64 tensors every step therefore pays a page fault per 4 KiB on every allocation: on the
metric engine that was a quarter of the CPU time (``benchmarks/metrics_bench.py``: ~300 minor
faults per frame). :func:`keep_freed_memory` makes glibc keep freed memory for reuse instead,
the remedy PyTorch's CPU performance guides give (there via jemalloc/tcmalloc ``LD_PRELOAD``).

It changes the whole process, so only programs call it (the ``avsal`` CLI, the pipeline stages,
the benchmarks), never the library on import. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

_applied = False


def keep_freed_memory(
    mmap_threshold: int = 1 << 30,
    trim_threshold: int = 1 << 32,
    top_pad: int = 1 << 26,
    arena_max: int = 1,
) -> bool:
    """Serve big allocations from the heap and keep freed memory; True if glibc took it.

    The process's resident memory then stays near its peak instead of shrinking after each step.
    """
    global _applied
    if _applied:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt takes an int: clamp to what fits
    limit = (1 << 31) - 1
    ok = all(
        mallopt(param, min(value, limit)) == 1
        for param, value in (
            (_M_MMAP_THRESHOLD, mmap_threshold),
            (_M_TRIM_THRESHOLD, trim_threshold),
            (_M_TOP_PAD, top_pad),
            # one arena: worker threads' own arenas are mmap'd heaps that shrink and refault
            (_M_ARENA_MAX, arena_max),
        )
    )
    if not ok:
        log.debug("mallopt refused the allocator settings; leaving the defaults")
        return False
    _applied = True
    return True
