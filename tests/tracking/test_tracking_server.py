"""A real `mlflow server` (127.0.0.1, free port, sqlite backend): a stage picks it up from
MLFLOW_TRACKING_URI, logs through it, and everything lands in the server's store."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlflow import MlflowClient
from tracking_toys import mlflow_server

from avsal.tracking import Tracker


def test_run_through_a_real_server(tmp_path, mlflow_template_db, clean_env, monkeypatch):
    backend = tmp_path / "server.db"
    shutil.copy(mlflow_template_db, backend)
    backend_uri = f"sqlite:///{backend}"
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "report.md").write_text("# report\n")

    with mlflow_server(tmp_path, backend_uri) as uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        tracker = Tracker(experiment="served", repo_root=repo, stage="evaluate")
        assert tracker.tracking_uri == uri
        with tracker.run("evaluate", {"eval": {"sets": ["AVAD", "DIEM"]}}) as run:
            for epoch in range(2):
                run.log_metrics({"cc": 0.1 * (epoch + 1)}, step=epoch)
            run.log_artifact(repo / "report.md")

        client = MlflowClient(uri)
        got = client.get_run(run.run_id)
        assert got.info.status == "FINISHED"
        assert got.data.params == {"eval.sets": '["AVAD", "DIEM"]'}
        assert got.data.tags["avsal.dvc.stage"] == "evaluate"
        hist = client.get_metric_history(run.run_id, "cc")
        assert [(m.step, m.value) for m in hist] == [(0, 0.1), (1, 0.2)]
        # artifacts went through the server's proxy, not into the repo
        assert got.info.artifact_uri.startswith("mlflow-artifacts:")
        assert {a.path for a in client.list_artifacts(run.run_id)} == {"params.json", "report.md"}
        local = client.download_artifacts(run.run_id, "report.md", str(tmp_path))
        assert Path(local).read_text() == "# report\n"
    assert not (repo / "mlflow").exists()

    # with the server gone, the records are in its sqlite backend
    direct = MlflowClient(backend_uri)
    assert direct.get_run(run.run_id).data.metrics == {"cc": 0.2}
    assert direct.get_experiment_by_name("served").experiment_id == tracker.experiment_id
    assert list((tmp_path / "server-artifacts").rglob("report.md"))
