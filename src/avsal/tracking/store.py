"""Which tracking store, is it reachable, and the race-free get-or-create of the experiment.

Default store: ``sqlite:///<store root>/mlflow/mlflow.db`` with artifacts in
``<store root>/mlflow/artifacts``. The store root is ``$DVC_ROOT`` when DVC set it (every stage
command; for ``dvc exp run --queue/--temp`` it names the *original* workspace, so queued
experiments land in the same store instead of in a temp copy that is thrown away), else the repo
root. ``$MLFLOW_TRACKING_URI`` overrides all of it (a shared ``mlflow server``, Postgres, ...).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from avsal.errors import AvsalError
from avsal.tracking._mlflow import load_mlflow

try:  # POSIX only; elsewhere the first-time schema creation is simply not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

DB_RELPATH = Path("mlflow") / "mlflow.db"
ARTIFACTS_RELPATH = Path("mlflow") / "artifacts"
#: MLflow 3's UI opens an experiment by its kind; without it, a new one opens on the GenAI page
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
_PROBE_ENV = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")


class TrackingUnavailable(AvsalError, RuntimeError):
    """The tracking store cannot be reached; raised at stage start, before any work."""


def store_root(repo_root: str | Path) -> Path:
    """``$DVC_ROOT`` if it names an existing folder, else ``repo_root`` (see module doc)."""
    dvc_root = os.environ.get("DVC_ROOT")
    if dvc_root and Path(dvc_root).is_dir():
        return Path(dvc_root).resolve()
    return Path(repo_root).resolve()


def tracking_uri(repo_root: str | Path, *, db: str | Path = DB_RELPATH) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<store root>/<db>`` (absolute).

    ``db`` is ``cfg.paths.mlflow_db`` (relative to the repo root).
    """
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    return f"sqlite:///{(store_root(repo_root) / db).as_posix()}"


def artifact_location(
    repo_root: str | Path, uri: str | None = None, *, artifacts: str | Path = ARTIFACTS_RELPATH
) -> str | None:
    """Artifact root for a new experiment: ``file://<store root>/<artifacts>`` for local
    stores; ``None`` (the server decides, e.g. ``mlflow-artifacts:/``) for http stores, whose
    clients need not share a filesystem with the server. ``artifacts`` is
    ``cfg.paths.mlflow_artifacts``."""
    uri = uri or tracking_uri(repo_root)
    if is_remote(uri):
        return None
    return (store_root(repo_root) / artifacts).as_uri()


def is_remote(uri: str) -> bool:
    return urlparse(uri).scheme in ("http", "https", "databricks")


def sqlite_path(uri: str) -> Path | None:
    """The db file of a ``sqlite:///...`` URI (``None`` for other stores or in-memory dbs)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri[len("sqlite:///") :].split("?", 1)[0])
    if not path or path == ":memory:":
        return None
    return Path("/" + path.lstrip("/")) if uri.startswith("sqlite:////") else Path(path)


@contextlib.contextmanager
def _sqlite_init_lock(uri: str) -> Iterator[None]:
    """Serialise first-time schema creation (and experiment creation) on a sqlite db.

    MLflow migrates an empty db on first use (seconds); two workers doing it at once fail with
    "table already exists"/"duplicate column". The lock is an advisory ``flock`` on the db's
    folder itself, so no lock file is left in the repo or the temp dir.
    """
    path = sqlite_path(uri)
    if path is None or fcntl is None or not path.parent.is_dir():
        yield
        return
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def _fast_http(timeout_s: int) -> Iterator[None]:
    """No retries and a short timeout for the reachability probe only (restored after)."""
    saved = {k: os.environ.get(k) for k in _PROBE_ENV}
    os.environ.update(
        {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s)}
    )
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _short(exc: BaseException) -> str:
    """The useful part of an error: the OS error of a refused connection, not 500 chars of URL."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 300 and (errno := re.search(r"\[Errno -?\d+\][^'\")]*", text)):
        return errno.group(0).strip()
    return text if len(text) <= 300 else text[:297] + "..."


def _unavailable(uri: str, reason: str) -> TrackingUnavailable:
    from_env = bool(os.environ.get("MLFLOW_TRACKING_URI", "").strip())
    db = sqlite_path(uri)
    hint = f"check that {db.parent} is writable" if db is not None else "start it"
    if from_env:
        hint += " or unset MLFLOW_TRACKING_URI"
    elif db is not None:
        hint += " or set MLFLOW_TRACKING_URI to a running server"
    return TrackingUnavailable(
        f"MLflow tracking store at {uri} cannot be reached: {reason}; {hint}"
    )


def check_store(uri: str, *, timeout_s: int = 5) -> None:
    """One cheap call against the store; raise ``TrackingUnavailable`` with a clear message.

    Meant for the first line of a stage: a dead server or an unwritable db fails in seconds,
    before any training, not after hours at the first ``log_metrics``.
    """
    mlflow = load_mlflow()
    db = sqlite_path(uri)
    try:
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        with _sqlite_init_lock(uri), _fast_http(timeout_s):
            mlflow.MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"; say why
        raise _unavailable(uri, _short(exc)) from exc


def get_or_create_experiment(
    name: str,
    *,
    uri: str,
    artifact_location: str | None = None,
    attempts: int = 8,
) -> str:
    """Experiment id of ``name``, creating it if needed; safe when workers race to create it.

    The loser of a create race gets "already exists" (or, on sqlite, "database is locked"):
    it retries with jitter and then finds the winner's experiment. A deleted experiment of
    that name is restored (MLflow would refuse to create a new one). The experiment is tagged
    as a model-training one (``mlflow.experimentKind``), so the UI opens on its runs table.
    """
    mlflow = load_mlflow()
    client = mlflow.MlflowClient(tracking_uri=uri)
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            exp = client.get_experiment_by_name(name)
            if exp is not None:
                if exp.lifecycle_stage == "deleted":
                    client.restore_experiment(exp.experiment_id)
                if exp.tags.get(EXPERIMENT_KIND_TAG) is None:
                    client.set_experiment_tag(
                        exp.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
                    )
                return str(exp.experiment_id)
            with _sqlite_init_lock(uri):
                return str(
                    client.create_experiment(
                        name,
                        artifact_location=artifact_location,
                        tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND},
                    )
                )
        except Exception as exc:  # noqa: BLE001 - "already exists"/"locked": look again
            last = exc
            time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
    raise RuntimeError(f"could not get or create MLflow experiment {name!r}: {last}") from last
