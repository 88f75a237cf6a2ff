"""Helpers of the tuning tests (a module with a unique name, importable from the test files)."""

from __future__ import annotations

from pathlib import Path


def mlflow_runs(root: Path):
    """Every MLflow run of the test world's store, as a DataFrame."""
    from avsal.tracking._mlflow import load_mlflow

    mlflow = load_mlflow()
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    return mlflow.search_runs(search_all_experiments=True)
