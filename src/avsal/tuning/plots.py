"""The two pictures of a campaign: optimisation history and parameter importances (PNG)."""

from __future__ import annotations

import warnings
from typing import Any

from optuna.trial import TrialState

__all__ = ["history_figure", "importance_figure", "importances"]


def history_figure(study: Any, *, baseline_number: int | None = None) -> Any:
    """Objective per trial (pruned trials at their last reported value), best so far, baseline."""
    from matplotlib.figure import Figure

    maximize = study.direction.name == "MAXIMIZE"
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    n_pruned = sum(t.state == TrialState.PRUNED for t in trials)  # infeasible ones report nothing
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    if done:
        ax.scatter(
            [t.number for t in done],
            [t.value for t in done],
            s=22,
            color="tab:blue",
            label="complete",
            zorder=3,
        )
        best, xs, ys = None, [], []
        for t in done:
            if best is None or (t.value > best if maximize else t.value < best):
                best = t.value
            xs.append(t.number)
            ys.append(best)
        ax.step(xs, ys, where="post", color="tab:red", label="best so far")
    if pruned:
        last = [t.intermediate_values[max(t.intermediate_values)] for t in pruned]
        ax.scatter(
            [t.number for t in pruned],
            last,
            marker="x",
            color="grey",
            label="pruned (last epoch)",
            zorder=2,
        )
    base = next((t for t in done if t.number == baseline_number), None)
    if base is not None:
        ax.axhline(
            base.value,
            color="tab:green",
            linestyle="--",
            linewidth=1,
            label=f"default params (#{base.number})",
        )
    ax.set_xlabel("trial")
    ax.set_ylabel("objective (tuning split)")
    failed = sum(t.state == TrialState.FAIL for t in trials)
    ax.set_title(
        f"study {study.study_name}: {len(done)} complete, {n_pruned} pruned"
        + (f", {failed} failed" if failed else "")
    )
    ax.grid(alpha=0.3)
    if done or pruned:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def importances(study: Any) -> dict[str, float]:
    """fANOVA importances (PED-ANOVA without scikit-learn); {} when there is too little to fit."""
    import optuna

    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(done) < 2:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return dict(optuna.importance.get_param_importances(study))
        except ImportError:
            return dict(
                optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
                )
            )
        except (ValueError, RuntimeError):
            return {}


def importance_figure(values: dict[str, float]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 0.45 * max(len(values), 3) + 1.2))
    ax = fig.subplots()
    if values:
        names = list(values)[::-1]
        ax.barh(names, [values[n] for n in names], color="tab:blue")
        ax.set_xlabel("importance (fANOVA, share of objective variance)")
    else:
        ax.text(
            0.5,
            0.5,
            "not enough complete trials (or no varying param)\nto estimate importances",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
    ax.set_title("hyper-parameter importances")
    fig.tight_layout()
    return fig
