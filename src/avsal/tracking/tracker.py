"""``Tracker``: the one object a stage uses to log to MLflow (or to nothing, when disabled).

Every stage run gets: flattened params (+ the full nested ``params.json``), provenance tags
(``avsal.pipeline_id``, git commit/dirty, DVC stage, dep/data md5s), per-epoch metrics and
artifacts. Runs are created through mlflow's fluent ``start_run`` so that ``log_model`` works
inside them; all logging goes through an explicit-run-id client.
"""

from __future__ import annotations

import contextlib
import json
import numbers
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from avsal.tracking import store
from avsal.tracking._mlflow import load_mlflow, set_quiet_env
from avsal.tracking.params import (
    BATCH_SIZE,
    MAX_TAG_VALUE_LEN,
    batched,
    flatten_params,
    sanitize_key,
    to_plain,
    truncate,
)
from avsal.tracking.provenance import find_repo_root, provenance_tags

MAX_METRICS_PER_BATCH = 1000
PARAMS_ARTIFACT = "params.json"


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return obj.as_posix()
    if hasattr(obj, "item") and callable(obj.item):  # 0-d torch tensors
        return obj.item()
    return str(obj)


def to_json(obj: Any) -> str:
    """JSON text for configs/tables holding numpy scalars, paths or dataclasses."""
    return json.dumps(to_plain(obj), indent=2, sort_keys=True, default=_jsonable)


def _metric_value(value: Any) -> float | None:
    """A number (python/numpy/0-d tensor) as float; ``None`` for anything else."""
    if isinstance(value, (str, bytes)):
        return None
    if isinstance(value, numbers.Number):
        return float(value)  # type: ignore[arg-type]
    try:
        if np.ndim(value) == 0:
            return float(value)
    except (TypeError, ValueError):
        return None
    return None


class RunHandle:
    """One MLflow run: log params, metrics, artifacts, tags, models. Explicit run id always."""

    enabled = True

    def __init__(self, *, run_id: str, experiment_id: str, tracking_uri: str) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.tracking_uri = tracking_uri
        self.client = load_mlflow().MlflowClient(tracking_uri=tracking_uri)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Flatten nested params (dotted keys) and log them in batches of <= 100."""
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten_params(params).items()]
        for batch in batched(items, BATCH_SIZE):
            self.client.log_batch(self.run_id, params=batch)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log numeric metrics at ``step`` (the epoch); a non-numeric value is an error."""
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        items = []
        for key, value in metrics.items():
            number = _metric_value(value)
            if number is None:
                raise TypeError(f"metric {key!r} is not a number: {value!r}")
            items.append(Metric(sanitize_key(key), number, stamp, int(step or 0)))
        for batch in batched(items, MAX_METRICS_PER_BATCH):
            self.client.log_batch(self.run_id, metrics=batch)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [
            RunTag(sanitize_key(k), truncate(str(v), MAX_TAG_VALUE_LEN)) for k, v in tags.items()
        ]
        for batch in batched(items, BATCH_SIZE):
            self.client.log_batch(self.run_id, tags=batch)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """A file, or a whole directory (its contents go under ``artifact_path``)."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        elif path.is_file():
            self.client.log_artifact(self.run_id, str(path), artifact_path)
        else:
            raise FileNotFoundError(f"no artifact at {path}")

    def log_text(self, text: str, name: str) -> None:
        """Text as an artifact file ``name`` (markdown tables, reports)."""
        self.client.log_text(self.run_id, text, name)

    def log_dict(self, obj: Any, name: str) -> None:
        """``obj`` as JSON (numpy scalars/paths welcome) at artifact path ``name``."""
        self.client.log_text(self.run_id, to_json(obj), name)

    def log_figure(self, fig: Any, name: str, *, dpi: int = 120) -> None:
        """A matplotlib figure as PNG at artifact path ``name`` (e.g. ``figures/roc.png``)."""
        artifact_dir, filename = os.path.split(name)
        with tempfile.TemporaryDirectory(prefix="avsal-fig-") as tmp:
            target = Path(tmp) / (filename if filename.endswith(".png") else filename + ".png")
            fig.savefig(target, dpi=dpi, bbox_inches="tight", format="png")
            self.client.log_artifact(self.run_id, str(target), artifact_dir or None)

    def register_torch_model(self, **kwargs: Any) -> Any:
        """See ``avsal.tracking.models.register_torch_model``."""
        from avsal.tracking.models import register_torch_model

        return register_torch_model(self, **kwargs)


class NullRunHandle:
    """What a disabled tracker yields: same methods, all no-ops, ``run_id`` is ``None``."""

    enabled = False
    run_id: str | None = None
    experiment_id: str | None = None
    tracking_uri: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        pass

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        pass

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        pass

    def log_text(self, text: str, name: str) -> None:
        pass

    def log_dict(self, obj: Any, name: str) -> None:
        pass

    def log_figure(self, fig: Any, name: str, *, dpi: int = 120) -> None:
        pass

    def register_torch_model(self, **kwargs: Any) -> None:
        return None


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
            number = _metric_value(value)
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
    ) -> None:
        set_quiet_env()
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
        )
        with _terminal_status(lambda status: _end_run(mlflow, handle.run_id, status)):
            if params is not None:
                handle.log_params(params)
                handle.log_dict(params, PARAMS_ARTIFACT)
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
