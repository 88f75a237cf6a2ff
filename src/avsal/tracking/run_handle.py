"""``RunHandle``: one MLflow run, logged through an explicit-run-id client (and its no-op twin).

Params are flattened (dotted keys, batches of 100), metrics are numbers at a step (the epoch),
datasets carry their DVC digests, models are registered with the run's provenance.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from avsal.tracking._mlflow import load_mlflow
from avsal.tracking.datasets import DatasetRecord
from avsal.tracking.params import (
    BATCH_SIZE,
    MAX_TAG_VALUE_LEN,
    batched,
    flatten_params,
    sanitize_key,
    to_plain,
    truncate,
)
from avsal.tracking.provenance import (
    TAG_DVC_EXP_NAME,
    TAG_DVC_STAGE,
    TAG_GIT_COMMIT,
    TAG_PIPELINE_ID,
)

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


def metric_value(value: Any) -> float | None:
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

    def __init__(
        self,
        *,
        run_id: str,
        experiment_id: str,
        tracking_uri: str,
        pipeline_run_id: str | None = None,
    ) -> None:
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.tracking_uri = tracking_uri
        self.pipeline_run_id = pipeline_run_id  # the parent run of this pipeline, when under DVC
        self.client = load_mlflow().MlflowClient(tracking_uri=tracking_uri)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Flatten nested params (dotted keys) and log them in batches of <= 100."""
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten_params(params).items()]
        for batch in batched(items, BATCH_SIZE):
            self.client.log_batch(self.run_id, params=batch)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log numeric metrics at ``step`` (the epoch); a non-numeric value is an error."""
        self._log_metrics(self.run_id, metrics, step)

    def _log_metrics(self, run_id: str, metrics: Mapping[str, Any], step: int | None) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        items = []
        for key, value in metrics.items():
            number = metric_value(value)
            if number is None:
                raise TypeError(f"metric {key!r} is not a number: {value!r}")
            items.append(Metric(sanitize_key(key), number, stamp, int(step or 0)))
        for batch in batched(items, MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=batch)

    def log_pipeline_metrics(self, metrics: Mapping[str, Any]) -> None:
        """Log ``metrics`` on this run and on its pipeline's parent run (the headline numbers
        that comparing two parent rows in the UI is about); None values are skipped."""
        kept = {k: v for k, v in metrics.items() if v is not None}
        self.log_metrics(kept)
        if self.pipeline_run_id:
            self._log_metrics(self.pipeline_run_id, kept, None)

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

    def log_datasets(self, records: list[DatasetRecord]) -> None:
        """``log_inputs``: the run's Dataset column (name, DVC digest, source path, context);
        also on the pipeline's parent run, which so lists every input of its stages."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = [
            DatasetInput(
                Dataset(name=r.name, digest=r.digest, source_type="dvc", source=r.source),
                tags=[InputTag("mlflow.data.context", r.context)],
            )
            for r in records
        ]
        if inputs:
            self.client.log_inputs(self.run_id, datasets=inputs)
            if self.pipeline_run_id:  # the parent row shows what its whole pipeline read
                self.client.log_inputs(self.pipeline_run_id, datasets=inputs)

    def log_figure(self, fig: Any, name: str, *, dpi: int = 120) -> None:
        """A matplotlib figure as PNG at artifact path ``name`` (e.g. ``figures/roc.png``)."""
        artifact_dir, filename = os.path.split(name)
        with tempfile.TemporaryDirectory(prefix="avsal-fig-") as tmp:
            target = Path(tmp) / (filename if filename.endswith(".png") else filename + ".png")
            fig.savefig(target, dpi=dpi, bbox_inches="tight", format="png")
            self.client.log_artifact(self.run_id, str(target), artifact_dir or None)

    def register_torch_model(self, **kwargs: Any) -> Any:
        """See ``avsal.tracking.models.register_torch_model``; the version is tagged with the
        run's git commit, DVC experiment, pipeline id and stage."""
        from avsal.tracking.models import register_torch_model

        tags = self.client.get_run(self.run_id).data.tags
        keep = (TAG_GIT_COMMIT, TAG_DVC_EXP_NAME, TAG_PIPELINE_ID, TAG_DVC_STAGE)
        version_tags = {k: tags[k] for k in keep if k in tags}
        version_tags["avsal.run_id"] = self.run_id
        return register_torch_model(self, version_tags=version_tags, **kwargs)


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

    def log_pipeline_metrics(self, metrics: Mapping[str, Any]) -> None:
        pass

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        pass

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        pass

    def log_text(self, text: str, name: str) -> None:
        pass

    def log_dict(self, obj: Any, name: str) -> None:
        pass

    def log_datasets(self, records: list[DatasetRecord]) -> None:
        pass

    def log_figure(self, fig: Any, name: str, *, dpi: int = 120) -> None:
        pass

    def register_torch_model(self, **kwargs: Any) -> None:
        return None
