"""The paper's published tables (Table 4, Tables 1-3) and the metric-name mapping.

The CSVs are a copy inside the repository (``paths.published``, ``references/paper``), with
their origin noted beside them, so a clone reports with nothing beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

__all__ = [
    "METRICS",
    "SUPERVISION",
    "load_table4",
    "load_ablations",
    "canonical_set",
]

#: (our key in evaluate.json, the CSV column, the column header the paper prints)
METRICS: tuple[tuple[str, str, str], ...] = (
    ("auc_judd", "auc_j", "AUC-J"),
    ("sim", "sim", "SIM"),
    ("auc_shuffled", "s_auc", "s-AUC"),
    ("cc", "cc", "CC"),
    ("nss", "nss", "NSS"),
)

#: supervision group of each Table 4 method, as the paper's "Means" column prints it
SUPERVISION: dict[str, str] = {
    **dict.fromkeys(("ITTI", "GBVS", "SCLI", "SBF", "AWS-D"), "unsupervised"),
    **dict.fromkeys(("GradCAM++", "VUNP", "WSS", "MWS", "WSSA", "STANet"), "weakly-sup."),
    **dict.fromkeys(("DeepNet", "SalGAN", "DeepVS", "ACLNet"), "fully-sup."),
}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def canonical_set(name: str, known: Iterable[str]) -> str:
    """Map a CSV dataset label onto our set name (case and punctuation ignored)."""
    by_key = {_key(k): k for k in known}
    return by_key.get(_key(name), name)


def _read(path: Path, required: list[str]) -> pd.DataFrame:
    df = pd.read_csv(path)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: columns {missing} missing (has {list(df.columns)})")
    return df


def load_table4(paper_dir: Path, sets: Iterable[str]) -> pd.DataFrame:
    """Table 4 rows (method, dataset, metric columns) with dataset names mapped onto ``sets``."""
    df = _read(
        paper_dir / "table4_published.csv", ["method", "dataset", *(c for _, c, _ in METRICS)]
    )
    sets = list(sets)
    return df.assign(dataset=[canonical_set(d, sets) for d in df["dataset"]])


def load_ablations(paper_dir: Path) -> pd.DataFrame:
    """Tables 1-3 rows (table, stage, module, metric columns), AVAD only."""
    df = _read(
        paper_dir / "ablations_published.csv",
        ["table", "stage", "module", *(c for _, c, _ in METRICS)],
    )
    return df.assign(table=df["table"].astype(int), stage=df["stage"].str.lower())
