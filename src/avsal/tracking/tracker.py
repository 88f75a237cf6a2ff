"""``Tracker``: the one object a stage uses to log to MLflow (or to nothing, when disabled).

Every stage run gets: flattened params (+ the full nested ``params.json``), provenance tags
(``avsal.pipeline_id``, git commit/dirty, DVC stage and experiment, dep/data md5s), the datasets
it read, per-epoch metrics and artifacts; under DVC it nests under its pipeline's parent run.
Runs are created through mlflow's fluent ``start_run`` so that ``log_model`` works inside them;
all logging goes through an explicit-run-id client (``RunHandle``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from avsal.tracking import store
from avsal.tracking._mlflow import load_mlflow, set_quiet_env
from avsal.tracking.datasets import DatasetRecord, dataset_records
from avsal.tracking.params import MAX_TAG_VALUE_LEN, sanitize_key, to_plain, truncate
from avsal.tracking.pipeline_run import RUN_KIND_STAGE, TAG_RUN_KIND, pipeline_run
from avsal.tracking.provenance import data_md5s, find_repo_root, provenance_tags, stage_dep_md5s
from avsal.tracking.run_handle import (
    PARAMS_ARTIFACT,
    NullRunHandle,
    RunHandle,
    metric_value,
    to_json,
)

__all__ = [
    "MetricsCallback",
    "NullRunHandle",
    "RunHandle",
    "Tracker",
    "metrics_callback",
    "to_json",
]


class MetricsCallback:
    """Adapter for ``Trainer(on_epoch_end=...)``: logs the numeric entries at ``step=epoch``.

    Non-numeric entries and the ``epoch`` entry itself (it is the step) are skipped, so the
    engine's records can be passed as they are.
    """

    def __init__(self, handle: RunHandle | NullRunHandle, *, prefix: str = "") -> None:
        self.handle = handle
        self.prefix = prefix

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        numeric = {}
        for key, value in metrics.items():
            number = metric_value(value)
            if key != "epoch" and number is not None:
                numeric[f"{self.prefix}{key}"] = number
        self.handle.log_metrics(numeric, step=int(epoch))

    __call__ = on_epoch_end


def metrics_callback(handle: RunHandle | NullRunHandle, *, prefix: str = "") -> MetricsCallback:
    """``on_epoch_end(epoch, metrics)`` callable for the training engine."""
    return MetricsCallback(handle, prefix=prefix)


class Tracker:
    """Experiment + store of one stage process; ``enabled=False`` makes everything a no-op.

    Construction checks the store (fails fast with ``TrackingUnavailable``) and gets or creates
    the experiment, so call it first thing in a stage. Store: ``tracking_uri`` if given, else
    ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<$DVC_ROOT or repo_root>/<mlflow_db>`` with
    artifacts in ``<...>/<mlflow_artifacts>`` (pass ``cfg.paths.mlflow_db``/``mlflow_artifacts``).
    ``stage`` defaults to ``$DVC_STAGE`` (set by DVC for each stage command).
    """

    def __init__(
        self,
        *,
        experiment: str,
        repo_root: str | Path | None = None,
        stage: str | None = None,
        enabled: bool = True,
        tracking_uri: str | None = None,
        mlflow_db: str | Path = store.DB_RELPATH,
        mlflow_artifacts: str | Path = store.ARTIFACTS_RELPATH,
        check_timeout_s: int = 5,
        pipeline_params: Mapping[str, Any] | Any | None = None,
        group_by_pipeline: bool | None = None,
        data_path: str = "data",
        artifacts_path: str = "artifacts",
    ) -> None:
        set_quiet_env()
        # under DVC (it sets $DVC_STAGE for each stage command) a stage run nests under its
        # pipeline's parent run, which carries ``pipeline_params`` (the whole params.yaml)
        self.group_by_pipeline = (
            bool(os.environ.get("DVC_STAGE")) if group_by_pipeline is None else group_by_pipeline
        )
        self.pipeline_params = pipeline_params
        self.data_path, self.artifacts_path = data_path, artifacts_path
        self.experiment = experiment
        self.enabled = enabled
        self.stage = stage or os.environ.get("DVC_STAGE") or None
        if repo_root is not None:
            self.repo_root = Path(repo_root).resolve()
        else:  # a disabled tracker (stage unit tests) needs no repo
            self.repo_root = find_repo_root() if enabled else Path.cwd()
        self.tracking_uri: str | None = None
        self.experiment_id: str | None = None
        self.check_timeout_s = check_timeout_s
        if not enabled:
            return
        self.tracking_uri = tracking_uri or store.tracking_uri(self.repo_root, db=mlflow_db)
        self.check()
        self.experiment_id = store.get_or_create_experiment(
            experiment,
            uri=self.tracking_uri,
            artifact_location=store.artifact_location(
                self.repo_root, self.tracking_uri, artifacts=mlflow_artifacts
            ),
        )

    def check(self) -> None:
        """Raise ``TrackingUnavailable`` unless the store answers a cheap call quickly."""
        if self.enabled and self.tracking_uri is not None:
            store.check_store(self.tracking_uri, timeout_s=self.check_timeout_s)

    def provenance_tags(self) -> dict[str, str]:
        return provenance_tags(self.repo_root, stage=self.stage)

    def datasets(self) -> list[DatasetRecord]:
        """What this stage read (its dvc.lock deps), as dataset records with DVC digests."""
        if not self.stage:
            return []
        md5s, _ = stage_dep_md5s(self.repo_root, self.stage)
        return dataset_records(
            self.repo_root,
            md5s,
            data_path=self.data_path,
            data_md5=data_md5s(self.repo_root).get(self.data_path),
            artifacts=self.artifacts_path,
        )

    @contextlib.contextmanager
    def start_run(
        self,
        *,
        run_name: str,
        params: Mapping[str, Any] | Any | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
    ) -> Iterator[RunHandle | NullRunHandle]:
        """A run with provenance tags and params; FINISHED on exit, FAILED/KILLED on error.

        Child runs: inside another run of this process the new run nests under it; from
        another process (an Optuna worker) pass the parent's ``parent_run_id``.
        """
        if not self.enabled:
            yield NullRunHandle()
            return
        mlflow = load_mlflow()
        mlflow.set_tracking_uri(self.tracking_uri)
        all_tags = {**self.provenance_tags(), **{k: str(v) for k, v in (tags or {}).items()}}
        active = mlflow.active_run()
        parent = None
        if active is None and parent_run_id is None and self.group_by_pipeline:
            client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
            parent = pipeline_run(
                client,
                experiment_id=str(self.experiment_id),
                uri=str(self.tracking_uri),
                tags=all_tags,
                params=to_plain(self.pipeline_params) if self.pipeline_params is not None else None,
            )
            client.update_run(parent, status="RUNNING")
            parent_run_id = parent
            all_tags[TAG_RUN_KIND] = RUN_KIND_STAGE
        run = mlflow.start_run(
            experiment_id=self.experiment_id,
            run_name=run_name,
            nested=active is not None,
            parent_run_id=parent_run_id,
            tags={
                sanitize_key(k): truncate(str(v), MAX_TAG_VALUE_LEN) for k, v in all_tags.items()
            },
            log_system_metrics=False,
        )
        handle = RunHandle(
            run_id=run.info.run_id,
            experiment_id=str(self.experiment_id),
            tracking_uri=str(self.tracking_uri),
            pipeline_run_id=parent,
        )

        def end(status: str) -> None:
            _end_run(mlflow, handle.run_id, status)
            if parent is not None:  # the parent shows the state of its latest stage
                handle.client.set_terminated(parent, status=status)

        with _terminal_status(end):
            if params is not None:
                handle.log_params(params)
                handle.log_dict(params, PARAMS_ARTIFACT)
            handle.log_datasets(self.datasets())
            yield handle

    @contextlib.contextmanager
    def reopen_run(self, run_id: str) -> Iterator[RunHandle]:
        """An existing run (of any process) RUNNING again; FINISHED/FAILED/KILLED on exit."""
        handle = RunHandle(
            run_id=run_id,
            experiment_id=str(self.experiment_id),
            tracking_uri=str(self.tracking_uri),
        )
        handle.client.update_run(run_id, status="RUNNING")
        with _terminal_status(lambda status: handle.client.set_terminated(run_id, status=status)):
            yield handle

    def run(
        self,
        run_name: str,
        params: Mapping[str, Any] | Any | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        parent_run_id: str | None = None,
    ) -> contextlib.AbstractContextManager[RunHandle | NullRunHandle]:
        """Positional shorthand for ``start_run``: ``with tracker.run("train", cfg.to_dict()):``."""
        return self.start_run(
            run_name=run_name, params=params, tags=tags, parent_run_id=parent_run_id
        )


@contextlib.contextmanager
def _terminal_status(end: Callable[[str], None]) -> Iterator[None]:
    """Call ``end`` with the run's final status: FINISHED, KILLED on Ctrl-C, FAILED on error."""
    status = "FINISHED"
    try:
        yield
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        end(status)


def _end_run(mlflow: Any, run_id: str, status: str) -> None:
    """Pop our run off mlflow's active stack, or (if something else is on top) just close it."""
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        mlflow.end_run(status)
    else:
        mlflow.MlflowClient().set_terminated(run_id, status=status)
