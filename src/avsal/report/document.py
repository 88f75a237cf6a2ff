"""The report's content: the claims, Table 4, Tables 1-3, figures, training.

Why separate from the stage: everything here is a pure function of already-loaded inputs, so
tests can build a report from hand-written numbers without a pipeline run, and the Markdown and
HTML renderings come from one list of blocks.
"""

from __future__ import annotations

from typing import Any

from avsal.report.claims_section import claims_blocks
from avsal.report.context import (
    NOT_AVAILABLE,
    TABLE4_OURS,
    FigureInfo,
    ReportContext,
    figure_blocks,
)
from avsal.report.render import Block, Bullets, Heading, Para, Table
from avsal.report.tables_section import (
    ABLATION_LAYOUT,
    ablation_blocks,
    ablations_per_set_blocks,
    table4_blocks,
)

__all__ = [
    "FigureInfo",
    "ReportContext",
    "build_document",
    "ABLATION_LAYOUT",
    "TABLE4_OURS",
    "NOT_AVAILABLE",
]

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


# ---------------------------------------------------------------- claims


def _claims(ctx: ReportContext) -> list[Block]:
    figure = figure_blocks(
        ctx,
        "forest",
        "claims forest plot",
        "Each claim's difference A − B in CC with its interval, pooled over the sets (diamond and "
        "bar); ticks above a bar: each set's own difference; italic rows: a mechanism's strata.",
    )
    return claims_blocks(ctx.inputs.claims, figure if ctx.inputs.claims else [])


# ---------------------------------------------------------------- figures and training


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
    blocks += figure_blocks(
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
        *figure_blocks(
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
        *_claims(ctx),
        *table4_blocks(ctx),
        *ablation_blocks(ctx),
        *_qualitative(ctx),
        *_training(ctx),
        *ablations_per_set_blocks(ctx),
    ]
