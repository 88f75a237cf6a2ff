"""The report's content: Table 4, Tables 1-3, the claimed orderings, figures, training.

Why separate from the stage: everything here is a pure function of already-loaded inputs, so
tests can build a report from hand-written numbers without a pipeline run, and the Markdown and
HTML renderings come from one list of blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from avsal.report.published import METRICS, SUPERVISION
from avsal.report.render import Block, Bullets, Heading, Image, Para, Table
from avsal.report.results import Inputs, OrderingCheck, Results, set_mean, value

__all__ = [
    "FigureInfo",
    "ReportContext",
    "build_document",
    "ABLATION_LAYOUT",
    "TABLE4_OURS",
    "NOT_AVAILABLE",
]

NOT_AVAILABLE = "not available"

#: our Table 4 rows, in display order
TABLE4_OURS = ("STANet (ours)", "pseudo-GT method", "centre bias")

#: paper row (table, stage, module) -> our ablations.json keys, first present wins, and why
ABLATION_LAYOUT: tuple[tuple[int, str, str, tuple[str, ...]], ...] = (
    (1, "coarse", "SCAM_avg", ("SCAM_avg coarse",)),
    (1, "coarse", "SCAM_sel", ("SCAM_sel coarse",)),
    (1, "fine", "SCAM_avg", ("SCAM_avg fine",)),
    (1, "fine", "SCAM_sel", ("SCAM_sel fine",)),
    (2, "coarse", "CAM_S", ("CAM_S coarse", "CAM_S")),
    (2, "coarse", "CAM_ST", ("CAM_ST coarse", "CAM_ST")),
    (2, "coarse", "CAM_SA", ("CAM_SA coarse", "CAM_SA")),
    (2, "coarse", "CAM_STA", ("CAM_STA coarse", "CAM_STA")),
    (2, "coarse", "SCAM", ("SCAM_sel coarse",)),
    (2, "fine", "CAM_S", ("CAM_S fine",)),
    (2, "fine", "CAM_ST", ("CAM_ST fine",)),
    (2, "fine", "CAM_SA", ("CAM_SA fine",)),
    (2, "fine", "CAM_STA", ("CAM_STA fine",)),
    (2, "fine", "SCAM", ("SCAM_sel fine",)),
    (3, "fine", "STA_without_audio_switch", ("STA w/o audio switch",)),
    (3, "fine", "STA_with_audio_switch", ("STA with audio switch",)),
)

TABLE_TITLES = {
    1: "Table 1: selective vs average fusion (SCAM_sel vs SCAM_avg), coarse and fine",
    2: "Table 2: single-source CAMs vs SCAM, coarse and fine",
    3: "Table 3: the STA net without / with the audio switch",
}

MAPPING_NOTES = (
    "Table 1: the paper's `SCAM_avg` / `SCAM_sel` of stage CO./FI. are our `SCAM_avg coarse`, "
    "`SCAM_sel coarse`, `SCAM_avg fine`, `SCAM_sel fine` (method maps of the eye-tracking videos).",
    "Table 2, coarse: the paper's `CAM_S`, `CAM_ST`, `CAM_SA` are the CAMs of our coarse S, ST, "
    "SA classification nets; its `CAM_STA` (a net fusing all sources like the STA net, Fig. 6-D) "
    "is the CAM of our coarse `sta_cls` net; its `SCAM` is our selective fusion `SCAM_sel coarse`.",
    "Table 2, fine: the paper's `CAM_S`, `CAM_ST`, `CAM_SA` are the CAMs of our fine S, ST, SA "
    "nets on the coarse crops, pasted back (`CAM_S fine`, ...); its `SCAM` is our `SCAM_sel "
    "fine`. No fine STA-cls net is trained, so the fine `CAM_STA` row has no counterpart.",
    "Table 3: the paper's `w/o. AS` / `w. AS` are our STA nets trained without / with the audio "
    "switch (`STA w/o audio switch`, `STA with audio switch`).",
)


@dataclass(frozen=True)
class FigureInfo:
    """A figure the stage drew (``src`` relative to the report) or why it did not."""

    src: str | None
    note: str = ""


@dataclass
class ReportContext:
    inputs: Inputs
    sets: list[str]
    checks: list[OrderingCheck]
    synthetic: bool
    data_path: str
    table4_pub: pd.DataFrame | None = None
    ablations_pub: pd.DataFrame | None = None
    paper_dir: Path | None = None
    paper_problems: list[str] = field(default_factory=list)
    profile: dict[str, str] = field(default_factory=dict)
    figures: dict[str, FigureInfo] = field(default_factory=dict)


def _fmt(v: float | None) -> str:
    return NOT_AVAILABLE if v is None else f"{v:.3f}"


def _ours_cells(results: Results, method: str, dataset: str) -> list[str]:
    return [_fmt(value(results, method, dataset, k)) for k, _, _ in METRICS]


def _mean_cells(
    results: Results, method: str, sets: list[str] | None = None
) -> tuple[list[str], int]:
    cells, n = [], 0
    for k, _, _ in METRICS:
        m, cnt = set_mean(results, method, k, sets)
        cells.append(_fmt(m))
        n = max(n, cnt)
    return cells, n


def _pub_cells(row: pd.Series) -> list[str]:
    return [_fmt(float(row[c])) if pd.notna(row[c]) else NOT_AVAILABLE for _, c, _ in METRICS]


HEADERS = tuple(h for _, _, h in METRICS)


# ---------------------------------------------------------------- header


def _header(ctx: ReportContext) -> list[Block]:
    inp = ctx.inputs
    blocks: list[Block] = [Heading("STANet reproduction report", 1)]
    blocks.append(
        Para(
            "**Numbers on the embedded synthetic world are NOT comparable to the paper's real-data numbers.** "
            "The synthetic sets only test that the pipeline runs end to end and that the orderings the method "
            "claims (Sec. 4.3) hold; the published columns are facts from the paper, not targets.",
            "note",
        )
    )
    if ctx.synthetic:
        blocks.append(
            Para(
                f"**This run used the embedded synthetic world** (`{ctx.data_path}/SYNTH_MANIFEST.json` is present): "
                "compare our rows with each other, not with the paper's.",
                "note",
            )
        )
    else:
        blocks.append(
            Para(
                f"This run used **real data** under `{ctx.data_path}` (no `SYNTH_MANIFEST.json`). "
                "Agreement with the paper is still only approximate where the profile below differs from the paper's "
                "(backbone, input sizes, epochs).",
                "note",
            )
        )
    facts = []
    ev = inp.evaluate or inp.ablations
    if ev:
        facts.append(
            f"Split: `{ev.get('split', '?')}` list of fold {ev.get('fold', '?')} (the reporting "
            "split; tuning uses the other side of the fold)."
        )
        if ev.get("protocol"):
            facts.append(
                "Protocol: "
                + ", ".join(f"{k}={v}" for k, v in ev["protocol"].items())
                + " (STAViS / MIT metrics)."
            )
    if ctx.profile:
        facts.append("Profile: " + ", ".join(f"{k} {v}" for k, v in ctx.profile.items()) + ".")
    facts.append(f"Sets: {', '.join(ctx.sets)}.")
    facts.append(
        f"Published tables: `{ctx.paper_dir}`."
        if ctx.paper_dir and not ctx.paper_problems
        else "Published tables: " + ("; ".join(ctx.paper_problems) or "not found") + "."
    )
    present = {
        "evaluate.json": inp.evaluate is not None,
        "ablations.json": inp.ablations is not None,
        "train/*.json": bool(inp.train),
    }
    missing = [k for k, ok in present.items() if not ok]
    facts.append(
        "Inputs missing: " + ", ".join(f"`{m}`" for m in missing) + "."
        if missing
        else f"Inputs: evaluate.json, ablations.json and {len(inp.train)} training reports found."
    )
    facts += [f"Problem: {p}" for p in inp.problems]
    blocks.append(Bullets(tuple(facts)))
    return blocks


# ---------------------------------------------------------------- orderings


def _orderings(ctx: ReportContext) -> list[Block]:
    blocks: list[Block] = [Heading("Orderings the method claims")]
    blocks.append(
        Para(
            "Each claim is checked on the **mean over the sets** that every compared method has; *holds on* counts the "
            "sets where it holds on its own (a mean carried by one set shows there), and the AVAD-only verdict (the "
            "paper's set) is given for information. ✓ = holds, ✗ = fails, n/a = an input is missing."
        )
    )
    t = Table(("Claim", "Metric", "Means compared", "Sets", "Verdict", "Holds on", "AVAD only"))
    verdict = {True: "✓", False: "✗", None: "n/a"}
    for c in ctx.checks:
        if c.holds is None:
            t.add(c.claim, c.metric.upper(), c.reason, "0", "n/a", "", "n/a", kind="note")
            continue
        parts = [f"{lbl} {m:.3f}" for lbl, m in zip(c.labels, c.means)]
        means = (
            f"{parts[0]} > " + ", ".join(parts[1:])
            if c.relation == ">all"
            else (" ≥ " if c.relation == ">=" else " > ").join(parts)
        )
        t.add(
            c.claim,
            c.metric.upper(),
            means,
            str(len(c.sets)),
            verdict[c.holds],
            f"{sum(c.per_set)} of {len(c.per_set)} sets",
            verdict[c.avad_holds],
            kind="ours" if c.holds else "note",
        )
    blocks.append(t)
    done = [c for c in ctx.checks if c.holds is not None]
    failed = [f"{c.claim} ({c.metric.upper()})" for c in done if not c.holds]
    summary = (
        f"**{sum(c.holds for c in done)} of {len(done)} checkable orderings hold.**"
        if done
        else "**No ordering could be checked.**"
    )
    if failed:
        summary += " Failing: " + "; ".join(failed) + "."
    if len(done) < len(ctx.checks):
        summary += f" {len(ctx.checks) - len(done)} could not be checked (inputs missing)."
    blocks.append(Para(summary))
    return blocks


# ---------------------------------------------------------------- Table 4


def _table4(ctx: ReportContext) -> list[Block]:
    res = ctx.inputs.table4
    pub = ctx.table4_pub
    blocks: list[Block] = [Heading("Table 4: our rows beside the published ones")]
    if ctx.inputs.evaluate is None:
        blocks.append(
            Para(
                f"Our rows: {NOT_AVAILABLE} — `reports/evaluate.json` not found (run the `evaluate` stage).",
                "note",
            )
        )
    if pub is None:
        blocks.append(
            Para(
                f"Published rows: {NOT_AVAILABLE} — "
                + ("; ".join(ctx.paper_problems) or "paper folder not found")
                + ".",
                "note",
            )
        )
    blocks.append(
        Para(
            "Rows marked **ours** come from this run (`reports/evaluate.json`); rows marked **paper** are copied from the "
            "paper's Table 4. *pseudo-GT method* is the final SCAM (selective, fine) run directly on the test videos; "
            "*centre bias* is a centred Gaussian. Note from the paper folder: the ETMD rows of GradCAM++ and VUNP look "
            "shifted by one column in the paper (copied as printed)."
        )
    )
    cols = ("Source", "Method", "Supervision", *HEADERS)
    for d in ctx.sets:
        t = Table(cols)
        if ctx.inputs.evaluate is not None:
            for m in TABLE4_OURS:
                if m in res and d in res[m]:
                    t.add(
                        "ours",
                        m,
                        "pseudo-fixations" if m != "centre bias" else "none",
                        *_ours_cells(res, m, d),
                        kind="ours",
                    )
                else:
                    t.add("ours", m, "", *([NOT_AVAILABLE] * len(HEADERS)), kind="note")
        if pub is not None:
            rows = pub[pub["dataset"] == d]
            if rows.empty:
                t.add(
                    "paper", f"(no published rows for {d})", "", *([""] * len(HEADERS)), kind="note"
                )
            rows = pd.concat([rows[rows["method"] == "STANet"], rows[rows["method"] != "STANet"]])
            for _, r in rows.iterrows():
                name = "STANet (paper)" if r["method"] == "STANet" else str(r["method"])
                t.add(
                    "paper",
                    name,
                    SUPERVISION.get(str(r["method"]), ""),
                    *_pub_cells(r),
                    kind="paper",
                )
        blocks += [Heading(d, 3), t]
    # mean over sets
    blocks.append(Heading("Mean over sets", 3))
    t = Table(("Source", "Method", "Sets", *HEADERS))
    for m in TABLE4_OURS:
        if m in res:
            cells, n = _mean_cells(res, m, [d for d in ctx.sets if d in res[m]])
            t.add("ours", m, str(n), *cells, kind="mean")
    if pub is not None:
        ours_sets = [d for d in ctx.sets if d in res.get("STANet (ours)", {})] or list(ctx.sets)
        sub = pub[pub["dataset"].isin(ours_sets)]
        for method, g in sorted(
            sub.groupby("method", sort=False), key=lambda kv: kv[0] != "STANet"
        ):
            cells = [_fmt(float(g[c].mean())) for _, c, _ in METRICS]
            t.add(
                "paper",
                "STANet (paper)" if method == "STANet" else str(method),
                str(len(g)),
                *cells,
                kind="paper",
            )
    if t.rows:
        t.caption = "unweighted mean of the per-set numbers; published means over the sets our STA row covers"
        blocks.append(t)
    else:
        blocks.append(Para(f"Mean over sets: {NOT_AVAILABLE}.", "note"))
    blocks += _figure(
        ctx,
        "table4_bars",
        "Table 4 bars",
        "CC and NSS per set: our rows beside the published STANet (hatched).",
    )
    return blocks


# ---------------------------------------------------------------- Tables 1-3


def _published_equal_to_stanet(ctx: ReportContext) -> list[str]:
    """Ablation rows whose published numbers are exactly the paper's Table 4 STANet AVAD row."""
    if ctx.ablations_pub is None or ctx.table4_pub is None:
        return []
    st = ctx.table4_pub[
        (ctx.table4_pub["method"] == "STANet") & (ctx.table4_pub["dataset"] == "AVAD")
    ]
    if st.empty:
        return []
    ref = [float(st.iloc[0][c]) for _, c, _ in METRICS]
    out = []
    for _, r in ctx.ablations_pub.iterrows():
        if [float(r[c]) for _, c, _ in METRICS] == ref:
            out.append(f"Table {r['table']} {r['stage']} {r['module']}")
    return out


def _ablations(ctx: ReportContext) -> list[Block]:
    res = ctx.inputs.ablation_results
    pub = ctx.ablations_pub
    blocks: list[Block] = [Heading("Tables 1-3: ablations")]
    if ctx.inputs.ablations is None:
        blocks.append(
            Para(
                f"Our rows: {NOT_AVAILABLE} — `reports/ablations.json` not found (run the `ablations` stage).",
                "note",
            )
        )
    if pub is None:
        blocks.append(
            Para(
                f"Published rows: {NOT_AVAILABLE} — "
                + ("; ".join(ctx.paper_problems) or "paper folder not found")
                + ".",
                "note",
            )
        )
    blocks.append(
        Para(
            "The paper reports its ablations on AVAD only; ours are scored on every set. Each module shows the paper's "
            "AVAD row, our AVAD row and our mean over all sets we have (per-set numbers are in the appendix). "
            "How our rows map onto the paper's modules:"
        )
    )
    blocks.append(Bullets(MAPPING_NOTES))
    same = _published_equal_to_stanet(ctx)
    if same:
        blocks.append(
            Para(
                "Note on the published numbers: "
                + ", ".join(same)
                + " print exactly the paper's Table 4 STANet AVAD row, "
                "i.e. the paper reports its final STA net under those labels. Our `SCAM_sel fine` is the pseudo-GT method "
                "itself on the test videos, so the closest like-for-like comparison of those rows is our STA (Table 3).",
                "note",
            )
        )
    layout = list(ABLATION_LAYOUT)
    if pub is not None:  # published rows this layout does not know: still shown
        known = {(t, s, m) for t, s, m, _ in layout}
        layout += [
            (int(r["table"]), str(r["stage"]), str(r["module"]), ())
            for _, r in pub.iterrows()
            if (int(r["table"]), str(r["stage"]), str(r["module"])) not in known
        ]
    cols = ("Stage", "Module", "Source", *HEADERS)
    for table_no in sorted({t for t, *_ in layout}):
        t = Table(cols)
        for tn, stage, module, candidates in layout:
            if tn != table_no:
                continue
            if pub is not None:
                pr = pub[(pub["table"] == tn) & (pub["stage"] == stage) & (pub["module"] == module)]
                for _, r in pr.iterrows():
                    t.add(stage, module, "paper (AVAD)", *_pub_cells(r), kind="paper")
            ours = next((c for c in candidates if c in res), None)
            if ours is None:
                why = (
                    "no counterpart in this pipeline"
                    if not candidates or (stage == "fine" and module.startswith("CAM_"))
                    else "not in ablations.json"
                )
                t.add(
                    stage,
                    module,
                    f"ours: {NOT_AVAILABLE} ({why})",
                    *([""] * len(HEADERS)),
                    kind="note",
                )
                continue
            t.add(
                stage, module, f"ours `{ours}`, AVAD", *_ours_cells(res, ours, "AVAD"), kind="ours"
            )
            cells, n = _mean_cells(res, ours, [d for d in ctx.sets if d in res[ours]] or None)
            t.add(stage, module, f"ours `{ours}`, mean of {n} sets", *cells, kind="mean")
        blocks += [Heading(TABLE_TITLES.get(table_no, f"Table {table_no}"), 3), t]
    return blocks


def _ablations_per_set(ctx: ReportContext) -> list[Block]:
    res = ctx.inputs.ablation_results
    blocks: list[Block] = [Heading("Appendix: our ablation rows per set")]
    if not res:
        return blocks + [Para(f"{NOT_AVAILABLE}: `reports/ablations.json` not found.", "note")]
    extra = [d for m in res.values() for d in m if d not in ctx.sets]
    for d in [*ctx.sets, *dict.fromkeys(extra)]:
        t = Table(("Method", *HEADERS))
        for m in res:
            if d in res[m]:
                t.add(m, *_ours_cells(res, m, d), kind="ours")
        if t.rows:
            blocks += [Heading(d, 3), t]
    return blocks


# ---------------------------------------------------------------- figures and training


def _figure(ctx: ReportContext, key: str, alt: str, caption: str) -> list[Block]:
    info = ctx.figures.get(key)
    if info is None or info.src is None:
        return [
            Para(
                f"{alt}: {NOT_AVAILABLE}" + (f" — {info.note}" if info and info.note else "") + ".",
                "note",
            )
        ]
    return [Image(info.src, alt, caption + (f" {info.note}" if info.note else ""))]


def _final(rep: dict[str, Any], *keys: str) -> str:
    for k in keys:
        v = rep.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return f"{v:.3f}" if isinstance(v, float) else str(v)
    return ""


def _training(ctx: ReportContext) -> list[Block]:
    blocks: list[Block] = [Heading("Training curves")]
    train = ctx.inputs.train
    if not train:
        return blocks + [
            Para(f"{NOT_AVAILABLE}: no `reports/train/*.json` found (no net trained yet).", "note")
        ]
    blocks += _figure(
        ctx,
        "training_curves",
        "training curves",
        "Loss per epoch (left axis) and accuracies (right axis) of every net found.",
    )
    t = Table(("Net", "Epochs", "Final train loss", "Final train acc", "Validation"))
    for name, rep in train.items():
        hist = rep.get("history") or []
        val = next(
            (
                (k, rep[k])
                for k in ("val_acc", "val_bce", "label_agrees_with_synthetic_truth")
                if isinstance(rep.get(k), (int, float))
            ),
            None,
        )
        t.add(
            name,
            str(len(hist)) if hist else "no history",
            _final(rep, "train_loss", "train_bce"),
            _final(rep, "train_acc"),
            f"{val[0]} {val[1]:.3f}" if val else "",
        )
    blocks.append(t)
    return blocks


def _qualitative(ctx: ReportContext) -> list[Block]:
    return [
        Heading("Qualitative examples"),
        *_figure(
            ctx,
            "qualitative",
            "qualitative examples",
            "Frames of the reporting split: human fixation points (green), the GT fixation density, the pseudo-GT method and our STA "
            "prediction, each overlaid on the frame (jet colour map, min-max normalised per map).",
        ),
    ]


def build_document(ctx: ReportContext) -> list[Block]:
    """The whole report as blocks, in reading order."""
    return [
        *_header(ctx),
        *_orderings(ctx),
        *_table4(ctx),
        *_ablations(ctx),
        *_qualitative(ctx),
        *_training(ctx),
        *_ablations_per_set(ctx),
    ]
