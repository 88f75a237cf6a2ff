"""Our stage outputs as the report reads them, set means, and the orderings the paper claims.

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
    "OrderingCheck",
    "ORDERING_CLAIMS",
    "check_orderings",
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
    """Read evaluate.json, ablations.json and train/*.json under ``reports``."""
    inp = Inputs()
    inp.evaluate = _read_json(reports / "evaluate.json", inp.problems)
    inp.ablations = _read_json(reports / "ablations.json", inp.problems)
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


@dataclass(frozen=True)
class OrderingCheck:
    """One claimed ordering on one metric: the means compared and whether it holds."""

    key: str
    claim: str
    metric: str
    labels: tuple[str, ...]
    means: tuple[float, ...]  # empty when not checkable
    sets: tuple[str, ...]  # the sets every compared method has
    holds: bool | None  # None: not checkable (an input is missing)
    avad_holds: bool | None  # the same claim on AVAD alone (the paper's set), for information
    reason: str = ""
    per_set: tuple[
        bool, ...
    ] = ()  # the claim on each set of ``sets``: shows a mean carried by one set
    relation: str = ">"


#: key, claim, source ("evaluate" | "ablations"), chain of (label, method) in claimed order, relation
ORDERING_CLAIMS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...], str], ...] = (
    (
        "fine_gt_coarse_gt_cam_s",
        "fine SCAM > coarse SCAM > CAM_S",
        "ablations",
        (
            ("fine SCAM_sel", "SCAM_sel fine"),
            ("coarse SCAM_sel", "SCAM_sel coarse"),
            ("CAM_S", "CAM_S"),
        ),
        ">",
    ),
    (
        "scam_gt_cams_coarse",
        "coarse SCAM > every single-source CAM",
        "ablations",
        (
            ("SCAM_sel", "SCAM_sel coarse"),
            ("CAM_S", "CAM_S"),
            ("CAM_ST", "CAM_ST"),
            ("CAM_SA", "CAM_SA"),
            ("CAM_STA", "CAM_STA"),
        ),
        ">all",
    ),
    (
        "sel_gt_avg_coarse",
        "selective > average fusion (coarse)",
        "ablations",
        (("SCAM_sel", "SCAM_sel coarse"), ("SCAM_avg", "SCAM_avg coarse")),
        ">",
    ),
    (
        "sel_gt_avg_fine",
        "selective > average fusion (fine)",
        "ablations",
        (("SCAM_sel", "SCAM_sel fine"), ("SCAM_avg", "SCAM_avg fine")),
        ">",
    ),
    (
        "switch_ge_noswitch",
        "STA with audio switch >= without",
        "ablations",
        (("with switch", "STA with audio switch"), ("w/o switch", "STA w/o audio switch")),
        ">=",
    ),
    (
        "sta_gt_centre_bias",
        "our STA > centre bias",
        "evaluate",
        (("STANet (ours)", "STANet (ours)"), ("centre bias", "centre bias")),
        ">",
    ),
)
ORDERING_METRICS = ("cc", "nss")


def _chain_holds(vals: list[float], relation: str) -> bool:
    """``>``/``>=``: a descending chain; ``>all``: the first beats each of the others."""
    if relation == ">all":
        return all(vals[0] > v for v in vals[1:])
    pairs = list(zip(vals, vals[1:]))
    return all(a > b for a, b in pairs) if relation == ">" else all(a >= b for a, b in pairs)


def check_orderings(inputs: Inputs) -> list[OrderingCheck]:
    """Every claim on CC and NSS, on the mean over the sets all compared methods share."""
    out = []
    for key, claim, source, chain, relation in ORDERING_CLAIMS:
        results = inputs.table4 if source == "evaluate" else inputs.ablation_results
        methods = [m for _, m in chain]
        labels = tuple(lbl for lbl, _ in chain)
        for metric in ORDERING_METRICS:
            shared = [
                d
                for d in results.get(methods[0], {})
                if all(value(results, m, d, metric) is not None for m in methods)
            ]
            name = f"{key}/{metric}"
            if not shared:
                missing = [m for m in methods if m not in results]
                why = (
                    f"`{source}.json` missing"
                    if not results
                    else f"no set has all of {methods}"
                    + (f" (absent: {missing})" if missing else "")
                )
                out.append(
                    OrderingCheck(
                        name, claim, metric, labels, (), (), None, None, why, relation=relation
                    )
                )
                continue
            means = tuple(set_mean(results, m, metric, shared)[0] for m in methods)  # type: ignore[misc]
            avad = [value(results, m, "AVAD", metric) for m in methods]
            avad_holds = _chain_holds(avad, relation) if all(v is not None for v in avad) else None  # type: ignore[arg-type]
            per_set = tuple(
                _chain_holds([value(results, m, d, metric) for m in methods], relation)
                for d in shared
            )  # type: ignore[misc]
            out.append(
                OrderingCheck(
                    name,
                    claim,
                    metric,
                    labels,
                    means,
                    tuple(shared),
                    _chain_holds(list(means), relation),
                    avad_holds,
                    per_set=per_set,
                    relation=relation,
                )
            )
    return out
