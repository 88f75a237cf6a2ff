"""The peak-memory sampler sees what a process holds (anonymous memory), its children's too,
and tells it apart from file-backed pages of a memory-mapped file."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from avsal.utils.resources import PeakSampler, tree_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_anonymous_memory_of_this_process_is_seen():
    base = tree_memory()["anon"] / 1024
    with PeakSampler(interval=0.05) as s:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        time.sleep(0.2)
        del block
    assert s.peak["anon_mib"] - base > 150, (base, s.peak)
    assert s.peak["rss_mib"] >= s.peak["anon_mib"]


def test_a_childs_memory_is_summed_in():
    code = "import numpy as np, time; a = np.ones(150 * 2**20 // 8); time.sleep(1.5)"
    with PeakSampler(interval=0.05) as s:
        base = tree_memory()["anon"] / 1024
        subprocess.run([sys.executable, "-c", code], check=True)
    assert s.peak["processes"] >= 2
    assert s.peak["anon_mib"] - base > 120, (base, s.peak)


def test_reading_a_memory_mapped_file_is_file_backed_not_anonymous(tmp_path):
    path = tmp_path / "big.npy"
    np.save(path, np.ones(120 * 2**20 // 8))
    with PeakSampler(interval=0.05) as s:
        base = tree_memory()
        arr = np.load(path, mmap_mode="r")
        total = float(arr.sum())  # every page read through the map
        time.sleep(0.2)
    assert total == 120 * 2**20 // 8
    assert s.peak["file_mib"] - base["file"] / 1024 > 80, (base, s.peak)
    assert s.peak["anon_mib"] - base["anon"] / 1024 < 60, (base, s.peak)
