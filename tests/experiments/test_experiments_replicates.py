"""Replicates through real DVC: queued experiments that differ only in the seed, run two at a
time, and their evidence read back from the experiment commits (a tiny repo, not the pipeline)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from avsal.config import load_config, with_overrides
from avsal.experiments import (
    collect,
    params_key,
    queue_replicates,
    read_replicates,
    replicate_seeds,
    run_queue,
)

pytestmark = pytest.mark.slow

STAGE = """import yaml, csv
from avsal.tracking import Tracker
from avsal.utils.numerics import thread_share
seed = yaml.safe_load(open("params.yaml"))["project"]["seed"]
# as a stage does: one MLflow run in the shared sqlite store, with the threads it may use
with Tracker(experiment="replicates", repo_root=".").run("claims", {"seed": seed}) as run:
    run.log_metrics({"thread_share": thread_share()})
with open("reports/claim_videos.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["claim", "metric", "stratum", "seed", "dataset", "video", "diff", "n_frames"])
    for v in ("v1", "v2", "v3"):
        w.writerow(["sta_gt_centre_bias", "cc", "", seed, "AVAD", v, 0.1 + 0.01 * seed, 4])
"""

DVC_YAML = """stages:
  claims:
    cmd: python src/stage.py
    deps: [src/stage.py]
    params: [project.seed]
    outs:
      - reports/claim_videos.csv:
          cache: false
"""


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def tiny_repo(tmp_path, repo_root, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.delenv("AVSAL_PARALLEL", raising=False)
    monkeypatch.delenv("AVSAL_PIPELINE_ID", raising=False)
    from avsal.tracking import check_store

    check_store(f"sqlite:///{tmp_path / 'mlflow.db'}")  # the stages' shared store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    root = tmp_path / "repo"
    (root / "reports").mkdir(parents=True)
    (root / "src").mkdir()
    shutil.copy(repo_root / "params.yaml", root / "params.yaml")
    (root / "src" / "stage.py").write_text(STAGE)
    (root / "dvc.yaml").write_text(DVC_YAML)
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "t@example.com")
    _git(root, "config", "user.name", "t")
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True)
    subprocess.run(["dvc", "repro", "-q"], cwd=root, check=True)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    return root


def _mlflow_runs(db: Path) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name("replicates")
    return client.search_runs([exp.experiment_id], "tags.`avsal.run_kind` = 'stage'")


def test_queued_seeds_run_side_by_side_and_are_collected(tiny_repo):
    cfg = load_config(tiny_repo / "params.yaml")
    seeds = replicate_seeds(cfg.project.seed, 2)
    assert seeds == [1, 2]
    before = len(_mlflow_runs(tiny_repo.parent / "mlflow.db"))
    assert queue_replicates(seeds, root=tiny_repo) == ["seed-1", "seed-2"]
    counts = run_queue(root=tiny_repo, jobs=2, poll_s=1.0, say=lambda _: None)
    assert counts.get("Success") == 2 and not counts.get("Failed"), counts
    # both queued runs are in the one sqlite store, named by their experiment, and each stage
    # process was told it runs beside another (its share: half the cores)
    runs = _mlflow_runs(tiny_repo.parent / "mlflow.db")
    assert len(runs) == before + 2
    queued = {r.data.tags.get("avsal.dvc.exp_name"): r for r in runs[:2]}
    assert set(queued) == {"seed-1", "seed-2"}
    cores = len(os.sched_getaffinity(0))
    assert all(r.data.metrics["thread_share"] == max(1, cores // 2) for r in queued.values())
    records = collect(cfg, root=tiny_repo)
    assert sorted(records["seed"].unique()) == [1, 2]  # the base seed 0 is the run itself
    assert set(records["experiment"]) == {"seed-1", "seed-2"}
    by_seed = records.groupby("seed")["diff"].first()
    assert by_seed[1] == pytest.approx(0.11) and by_seed[2] == pytest.approx(0.12)
    # the claims stage keeps only replicates of the same params
    path = tiny_repo / "replicates.csv"
    records.to_csv(path, index=False)
    mine, info = read_replicates(path, cfg)
    assert len(mine) == 6 and info["stale_seeds"] == []
    changed = with_overrides(cfg, {"claims.resamples": 500})
    assert params_key(changed) != params_key(cfg)
    mine, info = read_replicates(path, changed)
    assert mine.empty and info["stale_seeds"] == [1, 2]
    assert pd.read_csv(path)["params_key"].nunique() == 1

    # a later commit that changes no code keeps them; one that changes a stage's code does not
    (tiny_repo / "README.md").write_text("docs\n")
    _git(tiny_repo, "add", "README.md")
    _git(tiny_repo, "commit", "-qm", "docs")
    assert set(collect(cfg, root=tiny_repo)["experiment"]) == {"seed-1", "seed-2"}
    (tiny_repo / "src" / "stage.py").write_text(STAGE + "# changed\n")
    subprocess.run(["dvc", "repro", "-q"], cwd=tiny_repo, check=True)
    _git(tiny_repo, "add", "-A")
    _git(tiny_repo, "commit", "-qm", "code")
    assert collect(cfg, root=tiny_repo).empty


def test_the_claims_stage_depends_on_every_param_of_the_replicate_key(repo_root):
    """Else a param change that the key sees would leave a stale claims.json behind."""
    import yaml

    from avsal.experiments.replicates import NOT_PIPELINE_PARAMS

    stage = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]["claims"]
    sections = set(yaml.safe_load((repo_root / "params.yaml").read_text()))
    assert set(stage["params"]) == sections - set(NOT_PIPELINE_PARAMS)
