"""Store failures are caught at stage start with a clear message; experiment creation is
race-free between worker processes (a fresh sqlite db: schema creation races too)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from tracking_toys import child_env, free_port

from avsal.tracking import Tracker, TrackingUnavailable


def test_closed_http_port_fails_fast_with_clear_message(tmp_path, clean_env, monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")  # the probe must not retry
    start = time.monotonic()
    with pytest.raises(TrackingUnavailable) as err:
        Tracker(experiment="x", repo_root=tmp_path)
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert msg.startswith(f"MLflow tracking store at {uri} cannot be reached: ")
    assert "Connection refused" in msg and "unset MLFLOW_TRACKING_URI" in msg
    # the probe's no-retry/short-timeout settings do not leak into the rest of the process
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ


def test_unwritable_sqlite_path_fails_with_clear_message(tmp_path, clean_env):
    blocker = tmp_path / "repo" / "mlflow"
    blocker.parent.mkdir()
    blocker.write_text("a file where the store folder should be\n")  # fails even as root
    with pytest.raises(TrackingUnavailable) as err:
        Tracker(experiment="x", repo_root=tmp_path / "repo")
    msg = str(err.value)
    assert f"sqlite:///{tmp_path}/repo/mlflow/mlflow.db cannot be reached" in msg
    assert "writable" in msg


def test_disabled_tracker_never_touches_the_store(tmp_path, clean_env, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    tracker = Tracker(experiment="x", repo_root=tmp_path, enabled=False)
    with tracker.run("noop", {"a": 1}) as run:
        run.log_metrics({"loss": 1.0}, step=0)
        run.log_artifact(tmp_path / "missing")  # even this is a no-op
        assert run.run_id is None
    assert not (tmp_path / "mlflow").exists()


RACER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    import mlflow  # import before the start signal, so the race is on the store calls
    from avsal.tracking import Tracker
    go = Path(sys.argv[2])
    Path(sys.argv[3]).touch()
    while not go.exists():
        time.sleep(0.01)
    t = Tracker(experiment="optuna-study", repo_root=sys.argv[1])
    print(json.dumps({"experiment_id": t.experiment_id}))
    """
)


@pytest.mark.slow  # 3 processes + a fresh db's schema migration: ~14 s on 2 cores
def test_workers_racing_to_create_the_experiment(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    go = tmp_path / "go"
    n = 3
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(repo), str(go), str(tmp_path / f"ready{i}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for i in range(n)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready{i}").exists() for i in range(n)):
            assert time.monotonic() < deadline, "racers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        go.touch()
        results = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    ids = {json.loads(out.strip().splitlines()[-1])["experiment_id"] for out, _ in results}
    assert len(ids) == 1

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{repo}/mlflow/mlflow.db")
    found = client.search_experiments(filter_string="name = 'optuna-study'")
    assert [e.experiment_id for e in found] == list(ids)
    assert found[0].artifact_location == (repo / "mlflow" / "artifacts").as_uri()
