"""What every section of the report reads: the loaded inputs, the figures drawn, and the
cell formatting shared by the tables (one "not available" spelling, three decimals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from avsal.report.published import METRICS
from avsal.report.render import Block, Image, Para
from avsal.report.results import Inputs, Results, set_mean, value

NOT_AVAILABLE = "not available"

#: our Table 4 rows, in display order
TABLE4_OURS = ("STANet (ours)", "pseudo-GT method", "centre bias")


@dataclass(frozen=True)
class FigureInfo:
    """A figure the stage drew (``src`` relative to the report) or why it did not."""

    src: str | None
    note: str = ""


@dataclass
class ReportContext:
    inputs: Inputs
    sets: list[str]
    synthetic: bool
    data_path: str
    table4_pub: pd.DataFrame | None = None
    ablations_pub: pd.DataFrame | None = None
    paper_dir: Path | None = None
    paper_problems: list[str] = field(default_factory=list)
    profile: dict[str, str] = field(default_factory=dict)
    figures: dict[str, FigureInfo] = field(default_factory=dict)


def fmt(v: float | None) -> str:
    return NOT_AVAILABLE if v is None else f"{v:.3f}"


def ours_cells(results: Results, method: str, dataset: str) -> list[str]:
    return [fmt(value(results, method, dataset, k)) for k, _, _ in METRICS]


def mean_cells(
    results: Results, method: str, sets: list[str] | None = None
) -> tuple[list[str], int]:
    cells, n = [], 0
    for k, _, _ in METRICS:
        m, cnt = set_mean(results, method, k, sets)
        cells.append(fmt(m))
        n = max(n, cnt)
    return cells, n


def pub_cells(row: pd.Series) -> list[str]:
    return [fmt(float(row[c])) if pd.notna(row[c]) else NOT_AVAILABLE for _, c, _ in METRICS]


HEADERS = tuple(h for _, _, h in METRICS)


def figure_blocks(ctx: ReportContext, key: str, alt: str, caption: str) -> list[Block]:
    info = ctx.figures.get(key)
    if info is None or info.src is None:
        return [
            Para(
                f"{alt}: {NOT_AVAILABLE}" + (f" — {info.note}" if info and info.note else "") + ".",
                "note",
            )
        ]
    return [Image(info.src, alt, caption + (f" {info.note}" if info.note else ""))]
