"""Fixtures: a real sqlite MLflow store per test (copied from one migrated template, because
migrating a fresh db costs seconds) and a Tracker on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tracking_toys import LEAKY_ENV


@pytest.fixture(scope="session")
def mlflow_template_db(tmp_path_factory) -> Path:
    """An empty, fully migrated MLflow sqlite db (created once per session)."""
    from avsal.tracking import check_store

    db = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    check_store(f"sqlite:///{db}")
    assert db.is_file()
    return db


@pytest.fixture
def clean_env(monkeypatch) -> None:
    """No tracking context from the surrounding shell (or an earlier test) leaks in, and
    whatever the test exports (``pipeline_id()`` exports its id) is undone after it."""
    for key in LEAKY_ENV:
        monkeypatch.setenv(key, "placeholder")  # so that undo restores the original state
        monkeypatch.delenv(key)


@pytest.fixture
def store_repo(tmp_path, mlflow_template_db, clean_env) -> Path:
    """A repo root whose default store ``mlflow/mlflow.db`` is a fresh copy of the template."""
    repo = tmp_path / "repo"
    (repo / "mlflow").mkdir(parents=True)
    (repo / "dvc.yaml").write_text("stages: {}\n")
    shutil.copy(mlflow_template_db, repo / "mlflow" / "mlflow.db")
    return repo


@pytest.fixture
def tracker(store_repo):
    from avsal.tracking import Tracker

    return Tracker(experiment="avsal-test", repo_root=store_repo)
