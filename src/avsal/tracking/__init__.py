"""Experiment tracking: the only package that imports mlflow (lazily, quietly).

A stage constructs a ``Tracker`` first thing (an unreachable store fails there, before any
work); a stage unit test passes ``enabled=False`` and nothing touches MLflow:

    tracker = Tracker(experiment=cfg.project.name, repo_root=root, stage="train_sta",
                      mlflow_db=cfg.paths.mlflow_db, mlflow_artifacts=cfg.paths.mlflow_artifacts)
    with tracker.run("train_sta", cfg.to_dict()) as run:
        result = fit(..., on_epoch_end=metrics_callback(run))
        run.log_artifact(root / "reports" / "train_sta.json", "reports")
        run.register_torch_model(name="sta", state_dict_path=weights,
                                 builder="avsal.models.registry:build_model",
                                 builder_kwargs={"kind": "sta"}, input_example=example)
"""

from avsal.tracking._mlflow import set_quiet_env
from avsal.tracking.models import RegisteredModelVersion, load_torch_model, register_torch_model
from avsal.tracking.params import flatten_params
from avsal.tracking.provenance import (
    PIPELINE_ID_ENV,
    find_repo_root,
    git_info,
    pipeline_id,
    provenance_tags,
)
from avsal.tracking.store import (
    TrackingUnavailable,
    artifact_location,
    check_store,
    get_or_create_experiment,
    store_root,
    tracking_uri,
)
from avsal.tracking.tracker import (
    MetricsCallback,
    NullRunHandle,
    RunHandle,
    Tracker,
    metrics_callback,
)

set_quiet_env()

__all__ = [
    "PIPELINE_ID_ENV",
    "MetricsCallback",
    "NullRunHandle",
    "RegisteredModelVersion",
    "RunHandle",
    "Tracker",
    "TrackingUnavailable",
    "artifact_location",
    "check_store",
    "find_repo_root",
    "flatten_params",
    "get_or_create_experiment",
    "git_info",
    "metrics_callback",
    "pipeline_id",
    "provenance_tags",
    "load_torch_model",
    "register_torch_model",
    "store_root",
    "tracking_uri",
]
