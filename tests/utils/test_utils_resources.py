"""The peak-memory sampler sees what a process holds (anonymous memory), its children's too,
and tells it apart from file-backed pages of a memory-mapped file."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from avsal.utils.resources import PeakSampler, tree_memory

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_anonymous_memory_of_this_process_is_seen():
    """In a fresh interpreter: a long test process may serve the block from freed heap."""
    code = (
        "import json, time, numpy as np\n"
        "from avsal.utils.resources import PeakSampler, tree_memory\n"
        "base = tree_memory()['anon'] / 1024\n"
        "with PeakSampler(interval=0.05) as s:\n"
        "    block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched\n"
        "    time.sleep(0.2)\n"
        "    del block\n"
        "print(json.dumps({'base': base, **s.peak}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    peak = json.loads(out.stdout.strip().splitlines()[-1])
    assert peak["anon_mib"] - peak["base"] > 150, peak
    assert peak["rss_mib"] >= peak["anon_mib"]


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
