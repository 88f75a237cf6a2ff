"""Against real `dvc repro` / `dvc exp run` in a tmp git+DVC repo: one parent run per pipeline
with every stage run under it, the DVC experiment's name on both, and each run's datasets with
the DVC digests of what it read (digests recomputed here from the file bytes, not from DVC)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from tracking_toys import VENV_BIN, child_env

pytestmark = pytest.mark.slow

STAGE_SCRIPT = textwrap.dedent(
    """
    import os, sys, yaml
    from avsal.tracking import Tracker
    stage, outs = sys.argv[1], sys.argv[2:]
    params = yaml.safe_load(open("params.yaml"))
    tracker = Tracker(experiment="avsal-test", repo_root=".", pipeline_params=params)
    with tracker.run(stage, {"a": params["a"]}) as run:
        if stage == "train":  # the last stage's headline, as the report stage logs it
            run.log_pipeline_metrics({"headline/score": 10 * params["a"], "skipped": None})
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk("data") for f in fs)
    for out in outs:  # what prepare writes depends on the data, so new data reruns train
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, "x.txt"), "w").write(f"{stage} {params['a']} {size}\\n")
    """
)

FILES = {
    "data/AVE_Dataset/AVE/c1.mp4": b"clip one",
    "data/AVE_Dataset/Annotations.txt": b"Bark&c1&good&0&4\n",
    "data/fixations/AVAD/v1/f.mat": b"fix avad",
    "data/fixations/DIEM/v1/f.mat": b"fix diem",
}
NEW_DIEM = b"fix diem, second version"


def _sh(repo: Path, env: dict[str, str], *args: str) -> str:
    out = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def _digest(prefix: str) -> str:
    """What the Dataset column must show: md5 of the sorted "relpath md5" lines under prefix."""
    files = {**FILES, "data/fixations/DIEM/v1/f.mat": NEW_DIEM}
    lines = sorted(
        f"{path[len('data/') :]} {hashlib.md5(data).hexdigest()}"
        for path, data in files.items()
        if path.startswith(prefix)
    )
    return hashlib.md5("\n".join(lines).encode()).hexdigest()


@pytest.fixture(scope="module")
def pipeline_repo(tmp_path_factory, mlflow_template_db_module) -> tuple[Path, dict[str, str]]:
    repo = tmp_path_factory.mktemp("pipe")
    db = repo.parent / f"{repo.name}-mlflow.db"
    shutil.copy(mlflow_template_db_module, db)
    env = child_env(MLFLOW_TRACKING_URI=f"sqlite:///{db}")
    dvc = str(VENV_BIN / "dvc")
    _sh(repo, env, "git", "init", "-q")
    _sh(repo, env, "git", "config", "user.email", "t@example.com")
    _sh(repo, env, "git", "config", "user.name", "t")
    _sh(repo, env, dvc, "init", "-q")
    for path, data in FILES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    _sh(repo, env, dvc, "add", "-q", "data")
    (repo / "stage.py").write_text(STAGE_SCRIPT)
    (repo / "params.yaml").write_text("a: 1\n")
    py = sys.executable
    stages = {
        "prepare": {
            "cmd": f"{py} stage.py prepare artifacts/prepared/ave artifacts/pseudo/fine",
            "deps": ["stage.py", "data"],
            "outs": ["artifacts/prepared/ave", "artifacts/pseudo/fine"],
        },
        "train": {
            "cmd": f"{py} stage.py train artifacts/model",
            "deps": ["stage.py", "artifacts/prepared/ave", "artifacts/pseudo/fine"],
            "params": ["a"],
            "outs": ["artifacts/model"],
        },
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
    _sh(repo, env, "git", "add", ".")
    _sh(repo, env, "git", "commit", "-q", "-m", "init")
    _sh(repo, env, dvc, "repro", "-q")  # first run: no lock entry yet, so no datasets
    _sh(repo, env, "git", "add", ".")
    _sh(repo, env, "git", "commit", "-q", "-m", "locked")
    # new DIEM data: prepare reruns, then train, whose lock entry still has prepare's old
    # outputs while it runs (the datasets must show the new ones)
    (repo / "data/fixations/DIEM/v1/f.mat").write_bytes(NEW_DIEM)
    _sh(repo, env, dvc, "add", "-q", "data")
    _sh(repo, env, "git", "commit", "-q", "-am", "new DIEM")
    _sh(repo, env, dvc, "repro", "-q")
    _sh(repo, env, "git", "add", ".")
    _sh(repo, env, "git", "commit", "-q", "-m", "relocked")
    _sh(repo, env, dvc, "exp", "run", "-q", "-S", "a=2", "-n", "exp-two")
    return repo, env


@pytest.fixture(scope="module")
def mlflow_template_db_module(tmp_path_factory) -> Path:
    from avsal.tracking import check_store

    db = tmp_path_factory.mktemp("mlflow-template-pipe") / "mlflow.db"
    check_store(f"sqlite:///{db}")
    return db


def _runs(repo_env: tuple[Path, dict[str, str]]) -> list:
    client = MlflowClient(repo_env[1]["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("avsal-test")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    return client.search_runs([exp.experiment_id], max_results=100)


def test_one_parent_per_pipeline_with_its_stages_as_children(pipeline_repo):
    repo, _ = pipeline_repo
    runs = _runs(pipeline_repo)
    parents = [r for r in runs if r.data.tags.get("avsal.run_kind") == "pipeline"]
    # each dvc repro ran prepare + train; the experiment (a=2) ran train only
    assert len(parents) == 3 and len(runs) == 8
    first, second = (
        _sh(repo, child_env(), "git", "rev-parse", rev).strip() for rev in ("HEAD~3", "HEAD~1")
    )
    by_name = {p.info.run_name: p for p in parents}
    assert set(by_name) == {first[:8], second[:8], "exp-two"}
    for parent in parents:
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        pid = parent.data.tags["avsal.pipeline_id"]
        assert children and all(c.data.tags["avsal.pipeline_id"] == pid for c in children)
        assert all(c.data.tags["avsal.run_kind"] == "stage" for c in children)
        assert parent.info.status == "FINISHED"
        assert "avsal.dvc.stage" not in parent.data.tags  # not one stage's
        # the headline reaches the parent (and the stage run that logged it), None is skipped
        train = [c for c in children if c.info.run_name == "train"]
        assert (
            parent.data.metrics
            == train[0].data.metrics
            == {"headline/score": 10.0 * float(parent.data.params["a"])}
        )
    exp = by_name["exp-two"]
    assert exp.data.params["a"] == "2" and exp.data.tags["avsal.dvc.exp_name"] == "exp-two"
    assert by_name[second[:8]].data.params["a"] == "1"
    names = sorted(
        (r.info.run_name, r.data.tags.get("avsal.dvc.exp_name", ""))
        for r in runs
        if r.data.tags.get("avsal.run_kind") == "stage"
    )
    assert names == [("prepare", ""), ("prepare", ""), ("train", ""), ("train", "")] + [
        ("train", "exp-two")
    ]


def test_each_run_lists_what_it_read_with_dvc_digests(pipeline_repo):
    repo, _ = pipeline_repo
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    outs = {o["path"]: o["md5"].removesuffix(".dir") for o in lock["prepare"]["outs"]}
    second = _sh(repo, child_env(), "git", "rev-parse", "HEAD~1").strip()
    seen: dict[str, set] = {}
    for run in _runs(pipeline_repo):
        tags = run.data.tags
        if tags.get("avsal.run_kind") == "stage" and tags["avsal.git.commit"] == second:
            seen[run.info.run_name] = {
                (d.dataset.name, d.dataset.digest, d.dataset.source)
                for d in run.inputs.dataset_inputs
            }
    assert seen["prepare"] == {
        ("AVE", _digest("data/AVE_Dataset/"), "data/AVE_Dataset"),
        ("AVAD", _digest("data/fixations/AVAD/"), "data/fixations/AVAD"),
        ("DIEM", _digest("data/fixations/DIEM/"), "data/fixations/DIEM"),
    }
    assert seen["train"] == {
        ("AVE", _digest("data/AVE_Dataset/"), "data/AVE_Dataset"),
        ("AVE (prepared)", outs["artifacts/prepared/ave"], "artifacts/prepared/ave"),
        ("pseudo-GT fine", outs["artifacts/pseudo/fine"], "artifacts/pseudo/fine"),
    }
