"""numerics.thread_share: the one place that splits the cores among processes side by side."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from avsal.utils.numerics import PARALLEL_ENV, thread_share

CORES = len(os.sched_getaffinity(0))


def test_share_is_cores_over_parallel_and_never_zero(monkeypatch):
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    assert thread_share() == CORES  # alone: every core
    assert thread_share(2) == max(1, CORES // 2)
    assert thread_share(CORES * 4) == 1
    monkeypatch.setenv(PARALLEL_ENV, "2")
    assert thread_share() == max(1, CORES // 2)


@pytest.mark.parametrize("bad", ["two", "0", "-1"])
def test_a_bad_parallel_count_is_one_clear_error(monkeypatch, bad):
    monkeypatch.setenv(PARALLEL_ENV, bad)
    with pytest.raises(ValueError, match=r"whole number|>= 1"):
        thread_share()


def test_native_numerics_take_their_share_in_a_fresh_process():
    code = "from avsal.utils import numerics; print(numerics.apply('native', threads=1)['cpu_threads'])"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env[PARALLEL_ENV] = str(CORES)  # as many processes as cores: one thread each
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
