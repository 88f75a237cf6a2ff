"""Tracker runs against a real sqlite store: tags, per-epoch metrics, artifacts, run status,
parent/child runs (same process and across processes), the engine callback, disabled mode."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from tracking_toys import child_env

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from avsal.tracking import metrics_callback, pipeline_id  # noqa: E402


def _artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for info in client.list_artifacts(run_id, path):
        found |= _artifact_paths(client, run_id, info.path) if info.is_dir else {info.path}
    return found


def test_run_logs_tags_metrics_and_artifacts(tracker, store_repo, tmp_path):
    client = MlflowClient(tracker.tracking_uri)
    (tmp_path / "table.md").write_text("| a | b |\n|---|---|\n| 1 | 2 |\n")
    outdir = tmp_path / "preds"
    (outdir / "sub").mkdir(parents=True)
    (outdir / "p0.npy").write_bytes(b"0")
    (outdir / "sub" / "p1.npy").write_bytes(b"1")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])

    tracker.stage = "train_sta"
    with tracker.run("train_sta", {"train": {"lr": 0.01}}, tags={"kind": "sta"}) as run:
        cb = metrics_callback(run)
        for epoch in range(3):  # what the training engine calls after each epoch
            cb(epoch, {"epoch": epoch + 1, "train/loss": 1.0 / (epoch + 1), "lr": np.float32(0.5)})
        run.log_metrics({"eval/cc": 0.25}, step=2)
        run.log_artifact(tmp_path / "table.md", "reports")
        run.log_artifact(outdir, "predictions")
        run.log_dict({"cc": np.float64(0.25), "path": Path("x/y")}, "metrics/summary.json")
        run.log_text("# title\n", "reports/summary.md")
        run.log_figure(fig, "figures/curve.png")
        run.set_tags({"note": "ok"})
    plt.close(fig)

    got = client.get_run(run.run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "train_sta"
    assert got.info.experiment_id == tracker.experiment_id
    tags = got.data.tags
    assert tags["avsal.pipeline_id"] == pipeline_id()
    assert tags["avsal.dvc.stage"] == "train_sta"
    assert tags["avsal.git.commit"] == "unknown"  # the tmp repo is not a git repo
    assert tags["kind"] == "sta" and tags["note"] == "ok"
    assert got.data.params == {"train.lr": "0.01"}

    loss = client.get_metric_history(run.run_id, "train/loss")
    assert [(m.step, m.value) for m in loss] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert [m.step for m in client.get_metric_history(run.run_id, "lr")] == [0, 1, 2]
    assert "epoch" not in got.data.metrics  # the epoch is the step, not a metric
    assert got.data.metrics["eval/cc"] == 0.25

    assert _artifact_paths(client, run.run_id) == {
        "params.json",
        "reports/table.md",
        "reports/summary.md",
        "predictions/p0.npy",
        "predictions/sub/p1.npy",
        "metrics/summary.json",
        "figures/curve.png",
    }
    png = Path(client.download_artifacts(run.run_id, "figures/curve.png", str(tmp_path)))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(
        Path(client.download_artifacts(run.run_id, "metrics/summary.json")).read_text()
    )
    assert summary == {"cc": 0.25, "path": "x/y"}
    # artifacts live under <repo>/mlflow/artifacts, beside the db
    assert got.info.artifact_uri.startswith((store_repo / "mlflow" / "artifacts").as_uri())


def test_failed_run_is_marked_failed_and_error_propagates(tracker):
    with pytest.raises(ValueError, match="boom"), tracker.run("broken") as run:
        raise ValueError("boom")
    assert MlflowClient(tracker.tracking_uri).get_run(run.run_id).info.status == "FAILED"


def test_non_numeric_metric_is_an_error_but_callback_skips_it(tracker):
    with tracker.run("m") as run:
        with pytest.raises(TypeError, match="not a number"):
            run.log_metrics({"name": "abc"}, step=0)
        metrics_callback(run)(0, {"name": "abc", "loss": 2})
    assert MlflowClient(tracker.tracking_uri).get_run(run.run_id).data.metrics == {"loss": 2.0}


CHILD = textwrap.dedent(
    """
    import sys
    from avsal.tracking import Tracker
    t = Tracker(experiment="avsal-test", repo_root=sys.argv[1])
    with t.start_run(run_name="trial-7", parent_run_id=sys.argv[2], params={"lr": 0.1}) as run:
        run.log_metrics({"value": 0.7}, step=0)
    print(run.run_id)
    """
)


def test_child_runs_in_process_and_from_another_process(tracker, store_repo):
    client = MlflowClient(tracker.tracking_uri)
    with tracker.start_run(run_name="study") as parent:
        with tracker.start_run(run_name="trial-0") as nested:
            pass
        # an Optuna worker process creates its trial run under the study run by id
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(store_repo), parent.run_id],
            capture_output=True, text=True, env=child_env(), timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
    child_id = out.stdout.strip().splitlines()[-1]
    for run_id in (nested.run_id, child_id):
        assert client.get_run(run_id).data.tags["mlflow.parentRunId"] == parent.run_id
    children = client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.run_id}'"
    )
    assert {r.info.run_id for r in children} == {nested.run_id, child_id}
    assert client.get_run(child_id).data.metrics == {"value": 0.7}
    assert client.get_run(parent.run_id).info.status == "FINISHED"


def test_disabled_tracker_imports_no_mlflow(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from avsal.tracking import Tracker, metrics_callback
        t = Tracker(experiment="x", repo_root=sys.argv[1], enabled=False)
        with t.run("r", {"a": {"b": 1}}) as run:
            metrics_callback(run)(0, {"loss": 1.0})
            run.log_dict({"a": 1}, "a.json")
            assert run.register_torch_model(name="m") is None
        print("mlflow" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True, text=True, env=child_env(), timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    assert list(tmp_path.iterdir()) == []
