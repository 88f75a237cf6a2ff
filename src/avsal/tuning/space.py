"""The search space of ``tune.space``: suggestions, the baseline point, and ``best_params.yaml``."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from avsal.config import Config, ParamSpec
from avsal.tuning.trial import param_value

__all__ = [
    "suggest",
    "baseline_params",
    "in_space",
    "format_value",
    "dvc_command",
    "write_best_params",
    "read_best_params",
]


def suggest(trial: Any, space: Mapping[str, ParamSpec]) -> dict[str, Any]:
    """One point of ``space`` from an Optuna trial (Optuna param name = the dotted key)."""
    out: dict[str, Any] = {}
    for key, spec in space.items():
        if spec.type == "float":
            out[key] = trial.suggest_float(key, spec.low, spec.high, log=spec.log, step=spec.step)
        elif spec.type == "int":
            out[key] = trial.suggest_int(
                key, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log
            )
        else:
            out[key] = trial.suggest_categorical(key, list(spec.choices or ()))
    return out


def in_space(value: Any, spec: ParamSpec) -> bool:
    if spec.type == "categorical":
        return any(type(value) is type(c) and value == c for c in spec.choices or ())
    return spec.low <= value <= spec.high  # type: ignore[operator]


def baseline_params(cfg: Config) -> tuple[dict[str, Any], list[str]]:
    """The config's current values of the tuned keys, and the keys whose value is off-space."""
    params = {key: param_value(cfg, key) for key in cfg.tune.space}
    off = [k for k, spec in cfg.tune.space.items() if not in_space(params[k], spec)]
    return params, off


def _plain(value: Any) -> Any:
    """numpy scalars and the like -> python scalars (YAML and MLflow want plain values)."""
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def format_value(value: Any) -> str:
    """A value as YAML text that reads back as the same value (``1e-05`` -> ``1.0e-05``)."""
    text = yaml.safe_dump(_plain(value), default_flow_style=True).strip()
    return text[: -len("\n...")].strip() if text.endswith("\n...") else text


def dvc_command(params: Mapping[str, Any]) -> str:
    """``dvc exp run -S key=value ...`` for ``params`` (each value quoted for the shell)."""
    parts = ["dvc", "exp", "run"]
    for k, v in params.items():
        parts += ["-S", f"{k}={format_value(v)}"]
    return shlex.join(parts)


def write_best_params(path: Path, params: Mapping[str, Any], *, header: str = "") -> Path:
    """A flat ``dotted.key: value`` YAML (``avsal -S``/``dvc exp run -S`` keys), atomically."""
    from avsal.utils.io import atomic_write_text

    body = yaml.safe_dump(
        {k: _plain(v) for k, v in params.items()}, sort_keys=False, default_flow_style=False
    )
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return atomic_write_text(path, comment + body)


def read_best_params(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of dotted keys to values")
    return data
