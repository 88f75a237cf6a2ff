"""The report's figures, drawn with matplotlib's object API on the Agg canvas.

Why no pyplot: the stage runs headless (DVC, CI, a GPU box) and inside test processes; a
``Figure`` with an explicit ``FigureCanvasAgg`` never touches a display or the global pyplot
state, so nothing leaks between figures or into other code.  Every function returns PNG bytes;
the stage writes them atomically.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "QUAL_COLUMNS",
    "QualSample",
    "draw_qualitative",
    "draw_table4_bars",
    "draw_training_curves",
    "qualitative_figure",
    "table4_bars",
    "training_curves",
]

QUAL_COLUMNS = (
    "frame + GT fixations",
    "GT fixation map",
    "pseudo-GT method (SCAM_sel fine)",
    "STANet (ours)",
)


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


# ---------------------------------------------------------------- training curves


def _is_loss(key: str) -> bool:
    return "loss" in key or "bce" in key


def _family(key: str) -> str:
    """Legend entry of a history key: train/eval x loss/accuracy."""
    side = "train" if key.startswith("train/") else "validation"
    return f"{side} {'loss' if _is_loss(key) else 'accuracy'}"


_STYLE: dict[str, dict[str, str]] = {
    "train loss": {"color": "C0", "ls": "-"},
    "validation loss": {"color": "C1", "ls": "-"},
    "train accuracy": {"color": "C4", "ls": "--"},
    "validation accuracy": {"color": "C3", "ls": "--"},
}


def training_curves(train: dict[str, dict[str, Any]]) -> bytes:
    """PNG of :func:`draw_training_curves`."""
    return png_bytes(draw_training_curves(train))


def draw_training_curves(train: dict[str, dict[str, Any]]) -> Figure:
    """One panel per net: losses per epoch (left axis), accuracies (right axis) when present."""
    names = list(train)
    if not names:
        raise ValueError("no training reports to plot")
    ncols = min(4, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(3.6 * ncols, 2.7 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.set_axis_off()
    legend: dict[
        str, Any
    ] = {}  # one figure legend: the same colour means the same quantity in every panel
    for ax, name in zip(axes.flat, names):
        rep = train[name]
        hist = [r for r in rep.get("history") or [] if isinstance(r, dict)]
        ax.set_title(name, fontsize=10)
        ax.set_gid(name)
        if not hist:
            finals = ", ".join(
                f"{k}={v:.3g}"
                for k, v in rep.items()
                if isinstance(v, float) and ("loss" in k or "acc" in k or "bce" in k)
            )
            ax.text(
                0.5,
                0.5,
                "no per-epoch history\n" + finals.replace(", ", "\n"),
                ha="center",
                va="center",
                fontsize=8,
                transform=ax.transAxes,
            )
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        epochs = [int(r.get("epoch", i)) for i, r in enumerate(hist)]
        keys = sorted(
            {
                k
                for r in hist
                for k in r
                if k.startswith(("train/", "eval/")) and isinstance(r[k], (int, float))
            }
        )
        acc_keys = [k for k in keys if not _is_loss(k) and "acc" in k]
        ax2 = None
        for k in keys:
            if not _is_loss(k) and k not in acc_keys:
                continue  # throughput and other bookkeeping
            if k in acc_keys and ax2 is None:
                ax2 = ax.twinx()
                ax2.set_gid(f"{name}:acc")
                ax2.set_ylim(0, 1.02)
                ax2.set_ylabel("accuracy", fontsize=8)
                ax2.tick_params(labelsize=7)
            target = ax2 if k in acc_keys else ax
            ys = [float(r.get(k, np.nan)) for r in hist]
            style = _STYLE.get(_family(k), {"color": "C2", "ls": ":"})
            target.plot(epochs, ys, marker="o" if target is ax else "s", ms=3, label=k, **style)
            legend.setdefault(_family(k), target.get_lines()[-1])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_ylabel("loss", fontsize=8)
        ax.tick_params(labelsize=7)
    if legend:
        order = [f for f in _STYLE if f in legend] + [f for f in legend if f not in _STYLE]
        fig.legend(
            [legend[f] for f in order],
            order,
            loc="outside lower center",
            ncols=len(order),
            fontsize=8,
        )
    fig.suptitle("Training curves (per epoch)", fontsize=12)
    return fig


# ---------------------------------------------------------------- qualitative figure


@dataclass
class QualSample:
    """One frame to show; any map may be None (drawn as 'not available')."""

    label: str
    frame: np.ndarray  # RGB uint8 [H, W, 3]
    fixations: np.ndarray | None  # bool [H, W]
    gt: np.ndarray | None  # [h, w], any size (stretched over the frame)
    pseudo: np.ndarray | None
    pred: np.ndarray | None


def _norm(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float32)
    lo, hi = float(np.nanmin(m)), float(np.nanmax(m))
    return (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)


def _overlay(ax: Any, frame: np.ndarray, m: np.ndarray | None) -> None:
    h, w = frame.shape[:2]
    ax.imshow(frame, extent=(0, w, h, 0))
    if m is None:
        ax.imshow(frame.mean(2), cmap="gray", extent=(0, w, h, 0), alpha=0.6)
        ax.text(
            w / 2,
            h / 2,
            "not available",
            ha="center",
            va="center",
            color="white",
            fontsize=9,
            bbox={"facecolor": "black", "alpha": 0.6, "pad": 2},
        )
    else:
        # the map may be at the cached size: stretch it over the frame's extent
        ax.imshow(
            _norm(m),
            cmap="jet",
            alpha=0.5,
            extent=(0, w, h, 0),
            vmin=0,
            vmax=1,
            interpolation="bilinear",
        )
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)


def qualitative_figure(samples: Sequence[QualSample]) -> bytes:
    """PNG of :func:`draw_qualitative`."""
    return png_bytes(
        draw_qualitative(samples), dpi=85
    )  # noisy frames compress badly: keep the committed PNG small


def draw_qualitative(samples: Sequence[QualSample]) -> Figure:
    """Rows = frames; columns = frame with fixation points, GT map, pseudo-GT map, STA map."""
    if not samples:
        raise ValueError("no samples to draw")
    h, w = samples[0].frame.shape[:2]
    cw = 2.8
    fig = Figure(figsize=(cw * 4, len(samples) * cw * h / w + 0.6), layout="constrained")
    axes = fig.subplots(len(samples), 4, squeeze=False)
    for r, s in enumerate(samples):
        fh, fw = s.frame.shape[:2]
        ax = axes[r, 0]
        ax.imshow(s.frame, extent=(0, fw, fh, 0))
        if s.fixations is not None:
            ys, xs = np.nonzero(s.fixations)
            # fixation maps are frame-sized; scale in case they are not
            ys = (ys + 0.5) * fh / s.fixations.shape[0]
            xs = (xs + 0.5) * fw / s.fixations.shape[1]
            ax.scatter(
                xs, ys, s=14, c="lime", edgecolors="black", linewidths=0.6, label="fixations"
            )
        ax.set_xlim(0, fw)
        ax.set_ylim(fh, 0)
        ax.set_ylabel(s.label, fontsize=8)
        for c, m in enumerate((s.gt, s.pseudo, s.pred), start=1):
            _overlay(axes[r, c], s.frame, m)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    for c, title in enumerate(QUAL_COLUMNS):
        axes[0, c].set_title(title, fontsize=9)
    fig.suptitle(
        "Reporting split: human fixations vs the pseudo-GT method vs our STA net", fontsize=11
    )
    return fig


# ---------------------------------------------------------------- Table 4 bars


def table4_bars(
    series: dict[str, dict[str, dict[str, float | None]]],
    sets: Sequence[str],
    metrics: Sequence[tuple[str, str]],
    title: str = "Table 4: our rows beside the published STANet",
) -> bytes:
    """PNG of :func:`draw_table4_bars`."""
    return png_bytes(draw_table4_bars(series, sets, metrics, title))


def draw_table4_bars(
    series: dict[str, dict[str, dict[str, float | None]]],
    sets: Sequence[str],
    metrics: Sequence[tuple[str, str]],
    title: str = "Table 4: our rows beside the published STANet",
) -> Figure:
    """Grouped bars per set: ``series[label][metric][set]`` (None = absent), one panel per metric."""
    labels = list(series)
    fig = Figure(figsize=(5.2 * len(metrics), 3.6), layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    x = np.arange(len(sets))
    width = 0.8 / max(1, len(labels))
    for ax, (metric, header) in zip(axes, metrics):
        for i, lbl in enumerate(labels):
            ys = [series[lbl].get(metric, {}).get(d) for d in sets]
            vals = [np.nan if v is None else v for v in ys]
            hatch = "//" if "paper" in lbl else None
            ax.bar(
                x + (i - (len(labels) - 1) / 2) * width,
                vals,
                width,
                label=lbl,
                color=f"C{i}",
                hatch=hatch,
                edgecolor="black",
                linewidth=0.4,
            )
        ax.set_xticks(x, list(sets), fontsize=8)
        ax.set_title(header)
        ax.grid(axis="y", alpha=0.3)
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=max(1, len(labels)),
        fontsize=8,
    )
    fig.suptitle(title, fontsize=11)
    return fig
