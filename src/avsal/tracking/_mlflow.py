"""The one place that imports mlflow (lazily), after setting the quiet defaults.

Why lazy: stages built with ``Tracker(enabled=False)`` and the pure helpers (params flattening,
pipeline id, provenance) must not pay mlflow's import time or touch its global state.
"""

from __future__ import annotations

import os
from types import ModuleType

QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",  # no usage pings from stages, tests or Optuna workers
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",  # no "View run at http://..." per run
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # no tqdm bars when loading models
}


def set_quiet_env() -> None:
    """Set the quiet defaults unless the user chose otherwise."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def load_mlflow() -> ModuleType:
    """Import mlflow with the quiet defaults already in the environment."""
    set_quiet_env()
    import mlflow

    return mlflow
