"""Our stage outputs as the report reads them, and set means.

Why: a partial pipeline run (a stage not yet run, an older JSON without history) must still
produce a report that says what is missing, so every input is optional here and every number
is looked up through helpers that return None rather than raise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Results",
    "Inputs",
    "load_inputs",
    "value",
    "set_mean",
]

#: {method: {dataset: {metric: value}}}
Results = dict[str, dict[str, dict[str, float]]]

#: canonical order of the training reports (others found are appended by name)
TRAIN_ORDER = (
    "audio_switch",
    "coarse-s",
    "coarse-st",
    "coarse-sa",
    "coarse-sta_cls",
    "fine-s",
    "fine-st",
    "fine-sa",
    "sta",
    "sta_noswitch",
)


@dataclass
class Inputs:
    """Everything the report reads from ``reports/``; None / empty where a stage has not run."""

    evaluate: dict[str, Any] | None = None
    ablations: dict[str, Any] | None = None
    claims: dict[str, Any] | None = None  # reports/claims.json (stage claims)
    train: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # unreadable files, named

    @property
    def table4(self) -> Results:
        return (self.evaluate or {}).get("results") or {}

    @property
    def ablation_results(self) -> Results:
        return (self.ablations or {}).get("results") or {}


def _read_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        problems.append(f"`{path}` could not be read ({exc})")
        return None
    if not isinstance(obj, dict):
        problems.append(f"`{path}` is not a JSON object")
        return None
    return obj


def load_inputs(reports: Path) -> Inputs:
    """Read evaluate.json, ablations.json, claims.json and train/*.json under ``reports``."""
    inp = Inputs()
    inp.evaluate = _read_json(reports / "evaluate.json", inp.problems)
    inp.ablations = _read_json(reports / "ablations.json", inp.problems)
    inp.claims = _read_json(reports / "claims.json", inp.problems)
    found = {p.stem: p for p in sorted((reports / "train").glob("*.json"))}
    order = [n for n in TRAIN_ORDER if n in found] + sorted(
        n for n in found if n not in TRAIN_ORDER
    )
    for name in order:
        obj = _read_json(found[name], inp.problems)
        if obj is not None:
            inp.train[name] = obj
    return inp


def value(results: Results, method: str, dataset: str, metric: str) -> float | None:
    """A finite number or None (missing method/set/metric, NaN, non-numeric)."""
    v = results.get(method, {}).get(dataset, {}).get(metric)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def set_mean(
    results: Results, method: str, metric: str, sets: list[str] | None = None
) -> tuple[float | None, int]:
    """Unweighted mean over ``sets`` (default: every set the method has) and how many counted."""
    names = sets if sets is not None else list(results.get(method, {}))
    vals = [v for d in names if (v := value(results, method, d, metric)) is not None]
    return (sum(vals) / len(vals) if vals else None), len(vals)
