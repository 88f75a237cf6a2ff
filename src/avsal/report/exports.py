"""What DVC reads of a run: one compact ``metrics.json`` and the tables behind ``dvc plots``.

Why a separate, small file: ``dvc metrics show`` and ``dvc exp show`` print every number of
every file declared as a metric, and the full tables (every method x set x metric, every
training report) make a table of hundreds of columns that nobody can compare experiments with.
The big JSONs stay outputs; what DVC compares is the headline only: each Table 4 method's mean
over the sets of the paper's five metrics, STANet's CC and NSS per set, and the verdict counts
of the claims. The plot tables are plain CSV (one file per net, so DVC colours a line per file).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from avsal.report.results import Inputs, set_mean, value
from avsal.utils.io import atomic_write_json, atomic_write_text

__all__ = [
    "HEADLINE_METHODS",
    "HEADLINE_METRICS",
    "flat_metrics",
    "headline_metrics",
    "training_rows",
    "set_rows",
    "write_exports",
]

#: Table 4 method -> the short key it gets in metrics.json (a column name in ``dvc exp show``)
HEADLINE_METHODS = {
    "STANet (ours)": "stanet",
    "pseudo-GT method": "pseudo_gt",
    "centre bias": "centre_bias",
}
#: the paper's five metrics, as evaluate.json names them
HEADLINE_METRICS = ("cc", "nss", "auc_judd", "sim", "auc_shuffled")
#: training history key -> plot column (the same names for every net that logs them)
TRAIN_COLUMNS = {
    "train/loss": "train_loss",
    "train/acc": "train_acc",
    "eval/val_acc": "val_acc",
    "eval/val_bce": "val_bce",
    "eval/val_cc": "val_cc",
    "eval/val_nss": "val_nss",
    "lr": "lr",
}


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def headline_metrics(inputs: Inputs, sets: list[str]) -> dict[str, Any]:
    """The numbers ``dvc exp show`` lists; a method or set a run lacks is left out (not 0)."""
    t4 = inputs.table4
    out: dict[str, Any] = {"mean": {}, "stanet_sets": {}}
    for method, key in HEADLINE_METHODS.items():
        if method not in t4:
            continue
        means = {m: _r(set_mean(t4, method, m, sets)[0]) for m in HEADLINE_METRICS}
        out["mean"][key] = {m: v for m, v in means.items() if v is not None}
    for d in sets:
        per = {m: _r(value(t4, "STANet (ours)", d, m)) for m in ("cc", "nss")}
        if any(v is not None for v in per.values()):
            out["stanet_sets"][d] = {m: v for m, v in per.items() if v is not None}
    head = (inputs.claims or {}).get("headline")
    if head:
        out["claims"] = {k: int(head[k]) for k in ("holds", "fails", "undecided") if k in head}
        out["claims"]["seeds"] = len((inputs.claims or {}).get("seeds") or [])
    return out


def flat_metrics(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The headline as MLflow metric keys: ``{"mean": {"stanet": {"cc": x}}}`` -> ``{"mean/stanet/cc": x}``."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(flat_metrics(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def training_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per epoch with the plot columns this net logged (epoch counted from 1)."""
    present = [k for k in TRAIN_COLUMNS if any(k in h for h in history)]
    rows = []
    for h in history:
        row: dict[str, Any] = {"epoch": int(h["epoch"]) + 1}
        row.update({TRAIN_COLUMNS[k]: h.get(k) for k in present})
        rows.append(row)
    return rows


def set_rows(inputs: Inputs, sets: list[str], method: str = "STANet (ours)") -> list[dict]:
    """Per-set rows of ``method``'s five metrics (the bars of ``dvc plots``)."""
    rows = []
    for d in sets:
        vals = {m: value(inputs.table4, method, d, m) for m in HEADLINE_METRICS}
        if any(v is not None for v in vals.values()):
            rows.append({"set": d, **vals})
    return rows


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def write_exports(reports: Path, inputs: Inputs, sets: list[str]) -> dict[str, Any]:
    """Write ``metrics.json`` and ``plots/`` under ``reports``; stale plot files are removed."""
    metrics = headline_metrics(inputs, sets)
    atomic_write_json(reports / "metrics.json", metrics)
    plots = reports / "plots"
    wanted: dict[Path, str] = {}
    for name, rep in inputs.train.items():
        rows = training_rows(rep.get("history") or [])
        if rows:
            wanted[plots / "train" / f"{name}.csv"] = _csv(rows)
    rows = set_rows(inputs, sets)
    if rows:
        wanted[plots / "stanet_sets.csv"] = _csv(rows)
    for old in sorted(plots.rglob("*.csv")) if plots.is_dir() else []:
        if old not in wanted:
            old.unlink()
    for path, text in wanted.items():
        atomic_write_text(path, text)
    return metrics
