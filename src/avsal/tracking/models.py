"""Register a torch net in the MLflow model registry as a pyfunc, with a signature, unpickled.

The logged model is ``torch_pyfunc.py`` (models from code) + two artifacts: ``state_dict``
(tensors only) and ``builder`` (``{"builder": "pkg.mod:fn", "kwargs": {...}, "predict_fn":
"forward"}``). The loading environment must be able to import the builder (``avsal``
installed). The signature is inferred from ``input_example`` and the net's real outputs on it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avsal.tracking._mlflow import load_mlflow
from avsal.tracking._torch_net import build_net, predict

if TYPE_CHECKING:
    from avsal.tracking.run_handle import RunHandle

MODEL_CODE = Path(__file__).with_name("torch_pyfunc.py")


@dataclass(frozen=True)
class RegisteredModelVersion:
    """What was registered: ``mlflow.pyfunc.load_model(v.model_uri)`` loads it back."""

    name: str
    version: str
    run_id: str
    model_uri: str  # "models:/<name>/<version>"


def default_pip_requirements() -> list[str]:
    """Pinned from this environment; explicit so MLflow does not re-import the model to guess."""
    reqs = []
    for dist in ("mlflow", "torch", "numpy"):
        try:
            reqs.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            reqs.append(dist)
    return reqs


@contextlib.contextmanager
def _active_run(mlflow: Any, run_id: str) -> Iterator[None]:
    """Make ``run_id`` mlflow's active run (``log_model`` logs to the active run only)."""
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        yield
        return
    if active is not None:
        raise RuntimeError(
            f"run {active.info.run_id} is active in this process; register the model from "
            f"inside its own run ({run_id}) or after it ended"
        )
    status = mlflow.MlflowClient().get_run(run_id).info.status
    with mlflow.start_run(run_id=run_id):  # resumes the run; restore its status after
        yield
    mlflow.MlflowClient().set_terminated(run_id, status=status)


def register_torch_model(
    run: RunHandle | str,
    *,
    name: str,
    state_dict_path: str | Path,
    builder: str,
    builder_kwargs: Mapping[str, Any] | None = None,
    input_example: Mapping[str, np.ndarray],
    predict_fn_name: str = "forward",
    artifact_name: str = "model",
    pip_requirements: Sequence[str] | None = None,
    await_registration_for: int = 60,
    version_tags: Mapping[str, str] | None = None,
) -> RegisteredModelVersion | None:
    """Log the net as a pyfunc under ``run`` and register it as a new version of ``name``.

    ``run`` is a ``RunHandle`` (a disabled one makes this a no-op returning ``None``) or a run
    id in the current tracking URI. The net is rebuilt here from ``builder``/``state_dict_path``
    exactly as the registry will rebuild it, so a broken spec fails now, not at serving time.
    ``version_tags`` are set on the new version (the run handle passes its provenance).
    """
    if not isinstance(run, str) and not run.enabled:
        return None
    mlflow = load_mlflow()
    from mlflow.models import infer_signature

    if not isinstance(run, str):
        mlflow.set_tracking_uri(run.tracking_uri)
    run_id = run if isinstance(run, str) else run.run_id
    spec = {"builder": builder, "kwargs": dict(builder_kwargs or {}), "predict_fn": predict_fn_name}
    example = {str(k): np.asarray(v) for k, v in input_example.items()}
    net = build_net(spec, state_dict_path)
    signature = infer_signature(example, predict(net, predict_fn_name, example))

    with tempfile.TemporaryDirectory(prefix="avsal-model-") as tmp:
        spec_path = Path(tmp) / "builder.json"
        spec_path.write_text(json.dumps(spec, indent=2, sort_keys=True))
        with _active_run(mlflow, run_id):
            info = mlflow.pyfunc.log_model(
                name=artifact_name,
                python_model=str(MODEL_CODE),
                artifacts={"state_dict": str(Path(state_dict_path)), "builder": str(spec_path)},
                signature=signature,
                input_example=example,
                registered_model_name=name,
                pip_requirements=list(pip_requirements or default_pip_requirements()),
                await_registration_for=await_registration_for,
            )
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    for key, value in (version_tags or {}).items():  # which commit/experiment/pipeline made it
        client.set_model_version_tag(name, version, key, str(value))
    return RegisteredModelVersion(
        name=name, version=version, run_id=run_id, model_uri=f"models:/{name}/{version}"
    )


def load_torch_model(uri: str, *, tracking_uri: str) -> tuple[Any, dict[str, Any]]:
    """The net and builder spec of a model logged by :func:`register_torch_model`.

    ``uri`` is ``runs:/<run id>/model`` or ``models:/<name>/<version>`` (also
    ``models:/<name>@<alias>``). Loading goes through ``mlflow.pyfunc.load_model``, the path a
    served model takes, so what ``avsal predict`` runs is what ``mlflow models serve`` runs.
    """
    mlflow = load_mlflow()
    mlflow.set_tracking_uri(tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        model = mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{uri}: cannot load the model from {tracking_uri} ({first})") from None
    inner = model.unwrap_python_model()
    if not hasattr(inner, "net") or not hasattr(inner, "spec"):
        raise ValueError(f"{uri}: not a model logged by avsal (no builder spec and state_dict)")
    return inner.net, dict(inner.spec)
