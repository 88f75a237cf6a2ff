"""keep_freed_memory: big freed blocks are reused, not returned and page-faulted back in."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from avsal.utils.memory import keep_freed_memory

_PROBE = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from avsal.utils.memory import keep_freed_memory
    # count 4 KiB faults: numpy asks for huge pages on big arrays, and whether the kernel has
    # them free at that moment would decide the count (570 instead of 100,000 seen here)
    getattr(np, "_core", None) and np._core.multiarray._set_madvise_hugepage(False)
    if sys.argv[1] == "keep":
        assert keep_freed_memory()
    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(5_000_000)  # 40 MB: above glibc's largest adaptive mmap threshold (32 MB)
    before = faults()
    for _ in range(10):
        np.ones(5_000_000)
    print(faults() - before)
    """
)


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_blocks_are_reused_instead_of_faulted_in_again() -> None:
    default, kept = _faults("default"), _faults("keep")
    assert default > 1000  # each 40 MB array is mapped afresh and faulted in again
    assert kept < default / 20  # the same heap block, reused


def test_a_second_call_is_a_no_op() -> None:
    assert keep_freed_memory() == keep_freed_memory()
