"""Campaigns on the tiny profile: two workers sharing a study, MLflow parent/child runs, reuse of
trained nets, a SIGKILLed worker, Ctrl-C and resume, and the outputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from tuning_helpers import mlflow_runs

from avsal.config import load_config

pytestmark = pytest.mark.slow


def _states(study) -> dict[int, str]:
    return {t.number: t.state.name for t in study.trials}


def _wait_for(pred, timeout: float, what: str):
    t0 = time.time()
    while time.time() - t0 < timeout:
        out = pred()
        if out:
            return out
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_share_one_study_and_log_parent_and_children(in_world, tune_world, monkeypatch):
    from avsal.tuning import open_study, run_campaign

    root, params = tune_world
    cfg = in_world
    monkeypatch.setenv("AVSAL_TUNE_TEST_SLEEP", "1")  # trials overlap: both workers get some
    summary = run_campaign(cfg, study="two", trials=4, workers=2)
    study = open_study(cfg, "two")
    states = _states(study)
    assert sum(s in ("COMPLETE", "PRUNED") for s in states.values()) == 4  # the shared budget, not 2 x 4
    workers = {t.user_attrs.get("worker") for t in study.trials}
    assert len(workers) == 2  # both processes ran trials
    base = study.trials[0]
    assert base.user_attrs["baseline"] and base.params["scam.lam"] == cfg.scam.lam and base.params["scam.rule"] == cfg.scam.rule

    out = root / "reports" / "tune" / "two"
    for name in ("best_params.yaml", "history.png", "importances.png", "summary.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert summary["finished"] == 4 and summary["best"]["objective"] >= summary["baseline"]["objective"]
    rep = summary["reporting"]
    assert set(rep) == {"best", "baseline", "note"} and set(rep["best"]["metrics"]) == {"auc_judd", "sim", "auc_shuffled", "cc", "nss"}
    assert summary["dvc_command"].startswith("dvc exp run -S ")

    # best_params.yaml applies as is
    from avsal.tuning import read_best_params

    best = read_best_params(out / "best_params.yaml")
    applied = load_config(params, best)
    assert applied.scam.crop_k == best["scam.crop_k"] and applied.sta.train.lr == best["sta.train.lr"]
    assert best == {k: study.best_trial.params[k] for k in cfg.tune.space}

    runs = mlflow_runs(root)
    runs = runs[runs["tags.avsal.tune.study"] == "two"]
    parent = runs[runs["tags.avsal.tune.parent"] == "True"]
    assert len(parent) == 1
    children = runs[runs["tags.mlflow.parentRunId"] == parent.run_id.iloc[0]]
    assert len(children) == len(study.trials)
    assert set(children["tags.avsal.tune.state"]) <= {"COMPLETE", "PRUNED", "FAIL"}
    assert "params.tune.scam.lam" in children.columns and "metrics.objective" in children.columns
    done = children[children["tags.avsal.tune.state"] == "COMPLETE"]
    assert done["metrics.objective"].notna().all()
    assert parent["metrics.best_objective"].iloc[0] == pytest.approx(study.best_value)
    from avsal.tracking._mlflow import load_mlflow

    client = load_mlflow().MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    logged = {a.path for a in client.list_artifacts(parent.run_id.iloc[0])}
    assert {"history.png", "importances.png", "best_params.yaml", "summary.json"} <= logged


def test_a_threshold_only_change_reuses_the_trained_nets(in_world):
    from avsal.tuning.pipeline import TrialPipeline, apply_params

    cfg = in_world
    pipe = TrialPipeline(cfg)
    first = pipe.entries(cfg)
    lam = pipe.entries(apply_params(cfg, {"scam.lam": cfg.scam.lam * 10}))
    assert lam["switch"].hit and lam["coarse"].hit  # no coarse net retrained
    assert lam["coarse"].key == first["coarse"].key and lam["scam_coarse"].key != first["scam_coarse"].key
    k = apply_params(cfg, {"scam.crop_k": cfg.scam.crop_k + 0.5, "evaluate.blur_sigma": 1.0})
    moved = pipe.entries(k)
    assert moved["coarse"].hit and moved["switch"].hit and moved["prepared"].hit
    blur_only = pipe.entries(apply_params(cfg, {"evaluate.blur_sigma": 3.0}))
    assert all(e.hit for e in blur_only.values())  # only the scoring changes


def _worker(params, study, trials, *, sleep: float, env_extra=None) -> subprocess.Popen:
    env = {**os.environ, "AVSAL_TUNE_TEST_SLEEP": str(sleep), **(env_extra or {})}
    cmd = [sys.executable, "-m", "avsal.cli", "--params", str(params), "tune", "--study", study, "--trials", str(trials), "--worker"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkilled_worker_is_failed_by_heartbeat_retried_and_nothing_finished_is_lost(in_world, tune_world):
    from avsal.tuning import open_study, run_campaign

    root, params = tune_world
    cfg = in_world
    run_campaign(cfg, study="kill", trials=1, workers=1, report=False)  # trial #0 finished
    proc = _worker(params, "kill", 3, sleep=120)
    try:
        running = _wait_for(lambda: [t for t in open_study(cfg, "kill").trials if t.state.name == "RUNNING" and "mlflow_run_id" in t.user_attrs],
                            90, "the worker's trial to run")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed = running[0]
    run_campaign(cfg, study="kill", trials=3, workers=2, report=False)  # the rerun
    study = open_study(cfg, "kill")
    states = _states(study)
    assert states[0] == "COMPLETE"  # finished before the kill, still there
    assert states[killed.number] == "FAIL"
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retry) == 1 and retry[0].state.name in ("COMPLETE", "PRUNED") and retry[0].params == killed.params
    assert sum(s in ("COMPLETE", "PRUNED") for s in states.values()) == 3
    runs = mlflow_runs(root).set_index("run_id")
    assert runs.loc[killed.user_attrs["mlflow_run_id"], "status"] == "FAILED"
    assert runs.loc[killed.user_attrs["mlflow_run_id"], "tags.avsal.tune.state"] == "FAIL"


def test_ctrl_c_stops_the_campaign_and_the_same_command_resumes_it(in_world, tune_world):
    from avsal.tuning import open_study

    root, params = tune_world
    cfg = in_world
    cmd = [sys.executable, "-m", "avsal.cli", "--params", str(params), "tune", "--study", "ctrlc", "--trials", "2", "--workers", "1",
           "--no-reporting-score"]
    env = {**os.environ, "AVSAL_TUNE_TEST_SLEEP": "120"}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: (root / "artifacts/tune/optuna.db").exists()
                  and any(t.state.name == "RUNNING" and "mlflow_run_id" in t.user_attrs for t in _trials_or_empty(cfg, "ctrlc")),
                  90, "a running trial")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, out
    assert "rerun the same command to resume" in out
    study = open_study(cfg, "ctrlc")
    first = study.trials[0]
    assert first.state.name == "FAIL"
    requeued = [t for t in study.trials if t.state.name == "WAITING"]
    assert len(requeued) == 1 and requeued[0].user_attrs["requeued_from"] == first.number

    from avsal.stages import tune

    tune.run(cfg, study="ctrlc", trials=2, workers=1, report=False)  # the same command, again
    study = open_study(cfg, "ctrlc")
    redo = [t for t in study.trials if t.user_attrs.get("requeued_from") == first.number]
    assert redo[0].state.name == "COMPLETE" and redo[0].params == first.params
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.trials) == 2


def _trials_or_empty(cfg, name):
    from avsal.tuning import open_study

    try:
        return open_study(cfg, name).trials
    except Exception:  # noqa: BLE001 - the study does not exist yet
        return []


def test_the_pruning_sta_loop_trains_the_weights_of_the_sta_stage(in_world, tmp_path):
    """``tuning.pipeline.train_sta`` mirrors ``stages.sta.run_train``: same data, seed, weights."""
    import torch

    from avsal.stages import sta
    from avsal.tuning.cache import overlay
    from avsal.tuning.pipeline import TrialPipeline, train_sta, with_paths

    cfg = in_world
    entries = TrialPipeline(cfg).entries(cfg)
    upstream = [e for g, e in entries.items() if g != "sta"]
    weights, epochs = {}, []
    for name in ("stage", "tuning"):
        art = tmp_path / name / "artifacts"
        overlay(art, upstream)
        c = with_paths(cfg, art, tmp_path / name / "reports")
        if name == "stage":
            sta.run_train(c, variant="sta", track=False)
        else:
            train_sta(c, score_epoch=lambda m, e: float(e), on_epoch=lambda e, v: epochs.append((e, v)))
            assert epochs == [(e, float(e)) for e in range(cfg.sta.train.epochs)]  # every epoch reported
        weights[name] = torch.load(art / "models" / "sta" / "sta.pt", map_location="cpu", weights_only=True)
    assert weights["stage"].keys() == weights["tuning"].keys()
    for k, v in weights["stage"].items():
        assert torch.equal(v, weights["tuning"][k]), k
