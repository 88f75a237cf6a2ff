"""benchmarks/metrics_bench.py runs, and its MIT-literal baseline agrees with the engine."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "metrics_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("metrics_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_baseline_reproduces_the_hand_computed_auc_judd(bench) -> None:
    sal = np.arange(1, 10, dtype=float).reshape(3, 3)
    fix = np.zeros((3, 3), bool)
    fix[2, 2] = fix[1, 1] = True
    assert bench.mit_auc_judd(sal, fix, np.zeros((3, 3))) == pytest.approx(25 / 28, abs=1e-15)


def test_bench_runs_and_all_implementations_agree(bench, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench" / "metrics_bench.json"
    args = "--frames 6 --height 36 --width 48 --fixations 8 --device cpu --repeat 1".split()
    report = bench.main([*args, "--out", str(out)])  # default chunk size and workers
    assert json.loads(out.read_text())["largest_disagreement"] == report["largest_disagreement"]
    assert report["largest_disagreement"] < 1e-9
    names = [r["implementation"] for r in report["results"]]
    assert names[0].startswith("baseline") and names[1].startswith("engine-cpu")
    assert "| implementation | s | frames/s |" in capsys.readouterr().out
