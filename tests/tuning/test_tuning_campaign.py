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
    assert (
        sum(s in ("COMPLETE", "PRUNED") for s in states.values()) == 4
    )  # the shared budget, not 2 x 4
    workers = {t.user_attrs.get("worker") for t in study.trials}
    assert len(workers) == 2  # both processes ran trials
    base = study.trials[0]
    assert (
        base.user_attrs["baseline"]
        and base.params["scam.lam"] == cfg.scam.lam
        and base.params["scam.rule"] == cfg.scam.rule
    )

    out = root / "reports" / "tune" / "two"
    for name in ("best_params.yaml", "history.png", "importances.png", "summary.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (
        summary["finished"] == 4
        and summary["best"]["objective"] >= summary["baseline"]["objective"]
    )
    rep = summary["reporting"]
    assert set(rep) == {"best", "baseline", "note"} and set(rep["best"]["metrics"]) == {
        "auc_judd",
        "sim",
        "auc_shuffled",
        "cc",
        "nss",
    }
    assert summary["dvc_command"].startswith("dvc exp run -S ")

    # best_params.yaml applies as is
    from avsal.tuning import read_best_params

    best = read_best_params(out / "best_params.yaml")
    applied = load_config(params, best)
    assert (
        applied.scam.crop_k == best["scam.crop_k"] and applied.sta.train.lr == best["sta.train.lr"]
    )
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
    from avsal.config import with_overrides
    from avsal.tuning.trial import TrialPipeline

    cfg = in_world
    pipe = TrialPipeline(cfg)
    first = pipe.entries(cfg)
    lam = pipe.entries(with_overrides(cfg, {"scam.lam": cfg.scam.lam * 10}))
    upstream_of_scam = [
        n
        for n in first
        if n.startswith(
            ("validate_raw", "prepare", "audio_switch", "train_cls@coarse", "cams@coarse")
        )
    ]
    assert len(upstream_of_scam) == 8 and all(
        lam[n].hit for n in upstream_of_scam
    )  # no coarse net retrained
    assert lam["scam@coarse"].key != first["scam@coarse"].key and not lam["train_sta@sta"].hit
    boxes = [
        (e["scam@coarse"].artifacts / "pseudo/coarse/boxes.npy").read_bytes() for e in (first, lam)
    ]
    if boxes[0] == boxes[1]:  # the fine nets read the boxes only (dvc.yaml): same boxes, same nets
        assert lam["train_cls@fine-s"].hit and lam["cams@fine"].hit
    k = with_overrides(cfg, {"scam.crop_k": cfg.scam.crop_k + 0.5, "evaluate.blur_sigma": 1.0})
    moved = pipe.entries(k)
    assert moved["train_cls@coarse-s"].hit and moved["audio_switch"].hit and moved["prepare"].hit
    blur_only = pipe.entries(with_overrides(cfg, {"evaluate.blur_sigma": 3.0}))
    assert all(e.hit for e in blur_only.values())  # only the scoring changes


def test_a_failing_pseudo_gt_suite_ends_the_trial_with_its_message(in_world, tune_world):
    """validate_pseudo runs in every trial: its failure prunes the trial, its message recorded."""
    from avsal.config import with_overrides
    from avsal.errors import ValidationFailed
    from avsal.tuning import open_study, run_campaign
    from avsal.tuning.trial import TrialPipeline

    root, _ = tune_world
    cfg = with_overrides(in_world, {"validation.min_informative_pseudo": 0.999})
    with pytest.raises(ValidationFailed, match="informative pseudo-GT map"):
        TrialPipeline(cfg).entries(cfg)
    run_campaign(cfg, study="gx", trials=1, workers=1, report=False)
    (trial,) = open_study(cfg, "gx").trials
    assert (
        trial.state.name == "PRUNED"
        and "informative pseudo-GT map" in trial.user_attrs["validation_failed"]
    )
    runs = mlflow_runs(root).set_index("run_id")
    assert (
        "informative pseudo-GT map"
        in runs.loc[trial.user_attrs["mlflow_run_id"], "tags.avsal.tune.validation_failed"]
    )


def _worker(params, study, trials, *, sleep: float, env_extra=None) -> subprocess.Popen:
    env = {**os.environ, "AVSAL_TUNE_TEST_SLEEP": str(sleep), **(env_extra or {})}
    cmd = [
        sys.executable,
        "-m",
        "avsal.cli",
        "--params",
        str(params),
        "tune",
        "--study",
        study,
        "--trials",
        str(trials),
        "--worker",
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sigkilled_worker_is_failed_by_heartbeat_retried_and_nothing_finished_is_lost(
    in_world, tune_world
):
    from avsal.tuning import open_study, run_campaign

    root, params = tune_world
    cfg = in_world
    run_campaign(cfg, study="kill", trials=1, workers=1, report=False)  # trial #0 finished
    proc = _worker(params, "kill", 3, sleep=120)
    try:
        running = _wait_for(
            lambda: [
                t
                for t in open_study(cfg, "kill").trials
                if t.state.name == "RUNNING" and "mlflow_run_id" in t.user_attrs
            ],
            90,
            "the worker's trial to run",
        )
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
    assert (
        len(retry) == 1
        and retry[0].state.name in ("COMPLETE", "PRUNED")
        and retry[0].params == killed.params
    )
    assert sum(s in ("COMPLETE", "PRUNED") for s in states.values()) == 3
    runs = mlflow_runs(root).set_index("run_id")
    assert runs.loc[killed.user_attrs["mlflow_run_id"], "status"] == "FAILED"
    assert runs.loc[killed.user_attrs["mlflow_run_id"], "tags.avsal.tune.state"] == "FAIL"


def test_ctrl_c_stops_the_campaign_and_the_same_command_resumes_it(in_world, tune_world):
    from avsal.tuning import open_study

    root, params = tune_world
    cfg = in_world
    cmd = [
        sys.executable,
        "-m",
        "avsal.cli",
        "--params",
        str(params),
        "tune",
        "--study",
        "ctrlc",
        "--trials",
        "2",
        "--workers",
        "1",
        "--no-reporting-score",
    ]
    env = {**os.environ, "AVSAL_TUNE_TEST_SLEEP": "120"}
    proc = subprocess.Popen(
        cmd,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(
            lambda: (
                (root / "artifacts/tune/optuna.db").exists()
                and any(
                    t.state.name == "RUNNING" and "mlflow_run_id" in t.user_attrs
                    for t in _trials_or_empty(cfg, "ctrlc")
                )
            ),
            90,
            "a running trial",
        )
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

    from avsal.tuning import run_campaign

    run_campaign(cfg, study="ctrlc", trials=2, workers=1, report=False)  # the same command, again
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


def test_a_trial_trains_sta_with_the_stage_itself(in_world, tmp_path):
    """A trial's STA is ``stages.sta.run_train`` with epoch hooks: every epoch reported, and the
    weights are those the stage trains in a plain workspace over the same upstream outputs."""
    import torch

    from avsal.config import with_overrides
    from avsal.stages import sta
    from avsal.tuning.trial import TrialPipeline

    cfg = with_overrides(in_world, {"sta.train.lr": 0.00271})  # a key no other test builds
    pipe = TrialPipeline(cfg)
    epochs = []
    entries = pipe.entries(
        cfg,
        score_epoch=lambda m, e, c: {"tune_objective": float(e)},
        on_epoch=lambda e, rec: epochs.append((e, rec["eval/tune_objective"])),
    )
    assert epochs == [(e, float(e)) for e in range(cfg.sta.train.epochs)]
    ws = pipe.workspace(
        cfg, tmp_path / "ws", {n: e for n, e in entries.items() if n != "train_sta@sta"}
    )
    sta.run_train(ws, variant="sta", track=False)
    stage = torch.load(
        tmp_path / "ws" / "artifacts" / "models" / "sta" / "sta.pt",
        map_location="cpu",
        weights_only=True,
    )
    trial = torch.load(
        entries["train_sta@sta"].artifacts / "models" / "sta" / "sta.pt",
        map_location="cpu",
        weights_only=True,
    )
    assert stage.keys() == trial.keys()
    for k, v in stage.items():
        assert torch.equal(v, trial[k]), k
