"""The forest plot of the claims: each claim's difference and interval, pooled and per set."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from avsal.report.figures import png_bytes

__all__ = ["forest_plot"]

COLOURS = {"holds": "#1a7f37", "fails": "#cf222e", "undecided": "#6e7781"}


def forest_plot(claims: dict[str, Any], metric: str = "cc") -> bytes | None:
    """PNG: one row per claim (pooled over sets, with its interval) on ``metric``.

    Green holds, red fails, grey undecided; grey ticks above a bar are the sets' own differences;
    the strata of a mechanism claim (in italics) are rows of their own.
    """
    rows: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = []  # label, interval, sets
    for r in claims.get("claims", []):
        if r["metric"] != metric or "pooled" not in r:
            continue
        rows.append((f"{r['text']} ({r['where']})", r["pooled"], r.get("per_set", {}), True))
        for name, d in r.get("strata", {}).items():
            rows.append((f"{name}", d, {}, False))
    if not rows:
        return None
    fig = Figure(figsize=(8.5, 0.3 * len(rows) + 1.3))
    ax = fig.add_subplot()
    for i, (_, d, per_set, pooled) in enumerate(rows):
        y = len(rows) - 1 - i
        colour = COLOURS[d["verdict"]]
        ax.plot([d["lo"], d["hi"]], [y, y], color=colour, lw=3.0 if pooled else 1.5)
        ax.plot([d["diff"]], [y], "D", color=colour, ms=5 if pooled else 4)
        for s in per_set.values():  # each set's own difference, as a small tick
            ax.plot([s["diff"]], [y + 0.22], "|", color="#57606a", ms=5, mew=1)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([lbl for lbl, *_ in reversed(rows)], fontsize=7)
    for tick, (*_, pooled) in zip(ax.get_yticklabels(), reversed(rows)):
        tick.set_fontweight("bold" if pooled else "normal")
        tick.set_style("normal" if pooled else "italic")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    level = round(100 * claims.get("level", 0.95))
    ax.set_xlabel(f"A − B in {metric.upper()} ({level}% paired bootstrap interval)")
    ax.set_title(
        f"Claims on {metric.upper()}: green holds, red fails, grey undecided "
        f"(seeds: {', '.join(map(str, claims.get('seeds', [])))})",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    return png_bytes(fig)
