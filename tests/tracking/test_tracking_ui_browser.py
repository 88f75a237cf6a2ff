"""What the MLflow UI shows, in a real headless Chromium (driven by Playwright) against a real
`mlflow server`: two pipelines (as two DVC experiments make them) are two parent rows with the
datasets they read; a parent opens onto its stage runs; comparing the two parents shows each
one's headline metric."""

from __future__ import annotations

import shutil

import pytest
from mlflow import MlflowClient
from tracking_toys import mlflow_server

from avsal.tracking import Tracker
from avsal.tracking.datasets import DatasetRecord

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")

#: MLflow 3 opens experiments on its GenAI view unless the URL (or the stored choice) says this
TRAINING_VIEW = "workflowType=machine_learning"
EXPANDER = 'button[data-component-id*="runnamecellrenderer"]'


def _pipeline(repo, name: str, cc: float, monkeypatch) -> str:
    monkeypatch.setenv("AVSAL_PIPELINE_ID", f"pid-{name}")
    monkeypatch.setenv("DVC_EXP_NAME", name)
    tracker = Tracker(experiment="avsal", repo_root=repo, group_by_pipeline=True)
    for stage in ("train_sta@sta", "report"):
        with tracker.run(stage, {"seed": name}) as run:
            run.log_datasets([DatasetRecord("AVAD", "0123abcd" * 4, "data/fixations/AVAD", "raw")])
            if stage == "report":
                run.log_pipeline_metrics({"mean/stanet/cc": cc})
    return run.pipeline_run_id


def test_parents_children_datasets_and_a_comparison_in_a_real_browser(
    tmp_path, mlflow_template_db, clean_env, monkeypatch
):
    backend = tmp_path / "server.db"
    shutil.copy(mlflow_template_db, backend)
    repo = tmp_path / "repo"
    repo.mkdir()
    with mlflow_server(tmp_path, f"sqlite:///{backend}") as uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        parents = [
            _pipeline(repo, "seed-1", 0.6125, monkeypatch),
            _pipeline(repo, "seed-2", 0.5875, monkeypatch),
        ]
        exp = MlflowClient(uri).get_experiment_by_name("avsal").experiment_id
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{uri}/#/experiments/{exp}/runs?{TRAINING_VIEW}")
            rows = page.locator('[role="row"]')
            parent_row = rows.filter(has_text="seed-1")
            parent_row.wait_for(timeout=60_000)
            assert rows.filter(has_text="seed-2").count() == 1
            assert rows.filter(has_text="train_sta@sta").count() == 0  # children start folded
            # the grid draws a row in parts (pinned name, scrolled columns): all carry its run id
            whole_row = page.locator(f'[role="row"][row-id="{parents[0]}"]')
            assert "AVAD" in " ".join(whole_row.all_inner_texts())  # the parent's Dataset cell
            parent_row.locator(EXPANDER).click()
            rows.filter(has_text="train_sta@sta").first.wait_for(timeout=30_000)
            assert rows.filter(has_text="report").count() == 1  # seed-1's two stages only
            page.screenshot(path=str(tmp_path / "runs.png"))

            ids = ",".join(f"%22{p}%22" for p in parents)
            page.goto(
                f"{uri}/#/compare-runs?runs=[{ids}]&experiments=[%22{exp}%22]&{TRAINING_VIEW}"
            )
            page.get_by_text("mean/stanet/cc").first.wait_for(timeout=60_000)
            text = page.inner_text("body")
            browser.close()
        assert "seed-1" in text and "seed-2" in text
        assert "0.6125" in text and "0.5875" in text
