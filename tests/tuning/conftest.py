"""A tiny tuning world shared by the campaign tests: tiny-profile params, its synthetic data, an
MLflow sqlite store, and one tune cache (content-addressed, so tests share trained nets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

QUICK_TUNE = {
    "heartbeat_interval": 1,
    "grace_period": 3,
    "max_retry": 2,
    "sampler": {"name": "tpe", "seed": 0, "n_startup_trials": 4},
    "pruner": {"name": "median", "n_startup_trials": 2, "n_warmup_steps": 0},
}


def write_params(root: Path, repo_root: Path, *, tune: dict | None = None) -> Path:
    """Tiny profile + paths under ``root`` + quick heartbeats; returns the params file."""
    from avsal.config import load_profile

    merged = load_profile(repo_root / "params.yaml", repo_root / "profiles" / "tiny.yaml")
    data = root / "data"
    merged["paths"].update(
        data=str(data),
        ave_root=str(data / "AVE_Dataset"),
        fixation_root=str(data / "fixations"),
        artifacts=str(root / "artifacts"),
        reports=str(root / "reports"),
    )
    merged["tune"].update(QUICK_TUNE)
    merged["tune"].update(tune or {})
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def tune_world(tmp_path_factory, repo_root):
    """(root, params file) of a tiny world; MLFLOW_TRACKING_URI points at its own store."""
    from avsal.config import load_config
    from avsal.data.synth import generate_world
    from avsal.tracking import check_store

    root = tmp_path_factory.mktemp("tune")
    params = write_params(root, repo_root)
    generate_world(load_config(params).synth, root / "data")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    check_store(uri)  # migrate once (seconds)
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri  # inherited by worker processes
    yield root, params
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.fixture
def in_world(tune_world, monkeypatch):
    """Run inside the world's folder (so nothing resolves to the real repo), return the config."""
    from avsal.config import load_config

    root, params = tune_world
    monkeypatch.chdir(root)
    return load_config(params)
