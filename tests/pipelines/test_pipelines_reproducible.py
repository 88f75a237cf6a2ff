"""Same params, same bytes: a training stage run twice (2 threads), prepare after a re-touch.

What makes CPU bytes machine-dependent, and what ``runtime.cpu_numerics: portable`` pins, is in
``avsal.utils.numerics``. The thread count is one of the params: ATen's full reductions (STA's
one-channel bias gradient) and MKL's cross-vendor gemm both split sums by thread, which is why
portable mode pins ``runtime.cpu_threads``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from avsal.utils import numerics

pytestmark = pytest.mark.slow


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory, repo_root):
    from avsal.config import load_config, load_profile
    from avsal.data.synth import generate_world

    root = tmp_path_factory.mktemp("repro")
    merged = load_profile(repo_root / "params.yaml", repo_root / "profiles" / "tiny.yaml")
    data = root / "data"
    merged["paths"].update(
        data=str(data),
        ave_root=str(data / "AVE_Dataset"),
        fixation_root=str(data / "fixations"),
        artifacts=str(root / "artifacts"),
        reports=str(root / "reports"),
    )
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(merged, sort_keys=False))
    generate_world(load_config(params).synth, data)
    (root / "dvc.yaml").write_text(
        "stages: {}\n"
    )  # a project root, as the stages' provenance expects
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "PYTHONPATH": str(repo_root / "src"),
    }
    for k in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "OMP_NUM_THREADS"):  # the stage sets them itself
        env.pop(k, None)
    return root, params, env


def _stage(repo_root: Path, world, script: str, *args: str) -> subprocess.CompletedProcess:
    root, params, env = world
    cmd = [sys.executable, str(repo_root / "pipelines" / script), "--params", str(params), *args]
    res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{script} {args}: {res.stderr[-3000:]}"
    return res


def test_prepare_bytes_do_not_depend_on_file_times(repo_root, world):
    root, _, _ = world
    _stage(repo_root, world, "prepare.py")
    index = root / "artifacts" / "prepared" / "ave" / "index.json"
    before = _md5(index)
    for path in (root / "data").rglob("*"):
        if path.is_file():
            os.utime(
                path, (1_000_000_000, 1_000_000_000)
            )  # as a fresh clone or a regenerated world has
    _stage(repo_root, world, "prepare.py")
    assert _md5(index) == before


def test_training_stage_bytes_are_fixed_by_its_params_threads_included(repo_root, world):
    """The same params give the same bytes, run after run; the thread count is one of them.

    Under MKL's cross-vendor branch (COMPATIBLE) gemm splits its sums by thread (MKL's STRICT
    thread-invariance exists for its AVX2+ branches only, which are Intel-only), so 1 and 2
    threads may differ: ``runtime.cpu_threads`` is pinned by portable mode and recorded.
    """
    root, _, _ = world
    if not (root / "artifacts" / "prepared" / "ave" / "index.json").is_file():
        _stage(repo_root, world, "prepare.py")
    model = root / "artifacts" / "models" / "coarse" / "s.pt"
    report = root / "reports" / "train" / "coarse-s.json"
    got = []
    for _ in range(2):
        _stage(
            repo_root,
            world,
            "train_cls.py",
            "-S",
            "runtime.cpu_threads=2",
            "--stage",
            "coarse",
            "--net",
            "s",
        )
        got.append((_md5(model), _md5(report)))
        model.unlink()
    assert got[0] == got[1], got
    assert not {"seconds", "epoch_time_s", "frames_per_s"} & set(
        report.read_text().replace('"', " ").split()
    )  # no wall-clock


def test_stage_process_runs_the_portable_numerics(repo_root, world):
    _, _, env = world
    code = (
        "from avsal.utils import numerics; numerics.apply('portable', threads=2); import json; "
        "print(json.dumps(numerics.describe()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    info = yaml.safe_load(out.strip().splitlines()[-1])
    assert info == {
        "cpu_capability": "AVX2",
        "mkl_cbwr": "COMPATIBLE,STRICT",
        "mkldnn": "False",
        "threads": "2",
        "inductor_cache": env.get("TORCHINDUCTOR_CACHE_DIR", numerics.portable_inductor_cache()),
    }


def test_portable_compiled_kernels_have_their_own_cache_folder(repo_root, world):
    """Inductor's cache is not keyed by ATEN_CPU_CAPABILITY: a native run's AVX-512 kernels
    must never be found by a portable process."""
    _, _, env = world
    env = {k: v for k, v in env.items() if k != "TORCHINDUCTOR_CACHE_DIR"}
    code = (
        "import os; from avsal.utils import numerics; numerics.apply('portable', threads=1); "
        "print(os.environ['TORCHINDUCTOR_CACHE_DIR'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    import tempfile

    assert out.endswith("_portable-avx2")
    assert os.path.dirname(out) == tempfile.gettempdir()


def test_unreachable_tracking_store_is_one_line_naming_the_url(repo_root, world):
    root, params, env = world
    if not (root / "artifacts" / "prepared" / "ave" / "index.json").is_file():
        _stage(repo_root, world, "prepare.py")
    cmd = [
        sys.executable,
        str(repo_root / "pipelines" / "train_cls.py"),
        "--params",
        str(params),
        "--stage",
        "coarse",
        "--net",
        "s",
    ]
    res = subprocess.run(
        cmd,
        cwd=root,
        env={**env, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1, res.stderr
    assert "TrackingUnavailable" in lines[0] and "http://127.0.0.1:9" in lines[0]
