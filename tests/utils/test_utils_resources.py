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


def _in_fresh_interpreter(body: str) -> dict:
    """Run ``body`` (which sets ``out``) in a new interpreter: no freed heap to serve blocks."""
    code = (
        "import json, os, subprocess, sys, time, numpy as np\n"
        "from avsal.utils.resources import PeakSampler, tree_memory\n"
        f"{body}\n"
        "print(json.dumps(out))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_a_subprocess_before_its_exec_is_not_counted_as_a_copy_of_its_parent():
    """subprocess vfork()s: until the exec the child shows the parent's whole RssAnon."""
    out = _in_fresh_interpreter(
        "block = np.ones(300 * 2**20 // 8)\n"
        "held = tree_memory()['anon'] / 1024\n"
        "with PeakSampler(interval=0.002) as s:\n"
        "    for _ in range(150):\n"
        "        subprocess.run(['true'])\n"
        "out = {'held': held, **s.peak}\n"
    )
    assert out["held"] > 300, out
    assert out["anon_mib"] < out["held"] + 100, out  # twice held if the vfork child counted


def test_pages_a_forked_worker_shares_with_its_parent_count_once():
    out = _in_fresh_interpreter(
        "block = np.ones(300 * 2**20 // 8)\n"
        "held = tree_memory()['anon'] / 1024\n"
        "with PeakSampler(interval=0.05) as s:\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        own = np.ones(100 * 2**20 // 8)  # the worker's own memory\n"
        "        time.sleep(1.0)\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "out = {'held': held, **s.peak}\n"
    )
    assert out["processes"] == 2, out
    assert out["anon_mib"] - out["held"] > 70, out  # the worker's own 100 MiB is seen
    assert out["anon_mib"] < out["held"] + 200, out  # not the 300 MiB block a second time
