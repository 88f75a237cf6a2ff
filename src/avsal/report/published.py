"""The paper's published tables (Table 4, Tables 1-3) and the metric-name mapping.

Why a locator: the CSVs live beside the repository (``<repo>/../shared/paper``), not in it, so
the stage finds the repo root (the folder with ``dvc.yaml``) from the params file, the working
directory or this package; ``AVSAL_PAPER_DIR`` or an explicit argument override that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

__all__ = [
    "METRICS",
    "SUPERVISION",
    "PAPER_DIR_ENV",
    "find_paper_dir",
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

PAPER_DIR_ENV = "AVSAL_PAPER_DIR"


def _repo_root(start: Path) -> Path | None:
    start = start.resolve()
    for p in (start, *start.parents):
        if (p / "dvc.yaml").is_file():
            return p
    return None


def find_paper_dir(override: str | Path | None = None, *, starts: Iterable[Path] = ()) -> Path | None:
    """The folder holding the published CSVs, or None when it cannot be found."""
    if override is not None:
        return Path(override)
    env = os.environ.get(PAPER_DIR_ENV)
    if env:
        return Path(env)
    for start in (*starts, Path.cwd(), Path(__file__).parent):
        root = _repo_root(Path(start))
        if root is not None and (root.parent / "shared" / "paper").is_dir():
            return root.parent / "shared" / "paper"
    return None


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
    df = _read(paper_dir / "table4_published.csv", ["method", "dataset", *(c for _, c, _ in METRICS)])
    sets = list(sets)
    return df.assign(dataset=[canonical_set(d, sets) for d in df["dataset"]])


def load_ablations(paper_dir: Path) -> pd.DataFrame:
    """Tables 1-3 rows (table, stage, module, metric columns), AVAD only."""
    df = _read(paper_dir / "ablations_published.csv", ["table", "stage", "module", *(c for _, c, _ in METRICS)])
    return df.assign(table=df["table"].astype(int), stage=df["stage"].str.lower())
