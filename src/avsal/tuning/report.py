"""What a campaign leaves behind: ``<reports>/tune/<study>/`` (best params, plots, summary), the
reporting-split score of the best and default params, and the parent run's metrics."""

from __future__ import annotations

from collections import Counter
from typing import Any

import optuna
from optuna.trial import TrialState

from avsal.config import Config, with_overrides
from avsal.tuning.space import (
    dvc_command,
    format_value,
    write_best_params,
)
from avsal.tuning.splits import reporting_videos
from avsal.tuning.storage import shown_url
from avsal.tuning.study import say
from avsal.tuning.trial import Scorer, TrialPipeline, TunePaths
from avsal.utils.hashing import digest

__all__ = ["best_trial", "reporting_score", "finalize"]


def best_trial(s: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return s.best_trial
    except ValueError:
        return None


def reporting_score(cfg: Config, params: dict[str, Any], *, name: str) -> dict[str, Any]:
    """The paper's five metrics of the STA net trained with ``params`` on the REPORTING split
    (what ``dvc repro``'s evaluate reports), from the cache.  Never used to choose params."""
    from avsal.metric_names import PAPER_METRICS
    from avsal.stages.common import load_sta

    paths = TunePaths(cfg, None)
    cfg_p = with_overrides(cfg, {**cfg.tune.fixed, **params}, source=f"reporting score of {name}")
    pipeline = TrialPipeline(cfg)
    entries = pipeline.entries(cfg_p)
    cfg_ws = pipeline.workspace(cfg_p, paths.root / "reporting" / digest(params), entries)
    scorer = Scorer(cfg, reporting_videos(cfg), PAPER_METRICS)
    table = scorer.table(cfg_ws, load_sta(cfg_ws))
    return {
        "objective": scorer.objective(table, cfg.tune.objective.metrics),
        "metrics": _mean_table(table),
        "per_set": table,
    }


def _mean_table(table: dict[str, dict[str, float]]) -> dict[str, float]:
    import numpy as np

    metrics = sorted({m for ms in table.values() for m in ms})
    return {
        m: round(float(np.mean([ms[m] for ms in table.values() if m in ms])), 4) for m in metrics
    }


def finalize(
    cfg: Config,
    s: optuna.Study,
    *,
    parent: Any = None,
    wall_seconds: float = 0.0,
    budget: int | None = None,
    url: str = "",
    report: bool = True,
) -> dict[str, Any]:
    """Write ``<reports>/tune/<study>/`` (best params, plots, summary) and log it to the parent run."""
    from avsal.tuning.plots import history_figure, importance_figure, importances
    from avsal.utils.io import atomic_write_json

    paths = TunePaths(cfg, s.study_name)
    out_dir = paths.reports
    out_dir.mkdir(parents=True, exist_ok=True)
    trials = s.get_trials(deepcopy=False)
    counts = Counter(t.state.name for t in trials)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    baseline = next((t for t in done if t.user_attrs.get("baseline")), None)
    best = best_trial(s)
    metric_desc = f"mean of {'/'.join(cfg.tune.objective.metrics)} (per set, then over sets)"
    summary: dict[str, Any] = {
        "study": s.study_name,
        "storage": shown_url(url) if url else None,
        "objective": metric_desc,
        "direction": cfg.tune.objective.direction,
        "tuning_split": {"fold": cfg.tune.split.fold, "side": cfg.tune.split.side},
        "reporting_split": {"fold": cfg.evaluate.fold, "side": "test"},
        "budget": budget,
        "trials": dict(counts),
        "finished": counts.get("COMPLETE", 0) + counts.get("PRUNED", 0),
        "wall_seconds": round(wall_seconds, 1),
        "study_span_seconds": _span(trials),
        "fixed": dict(cfg.tune.fixed),
        "per_trial": [
            {
                "trial": t.number,
                "state": t.state.name,
                "value": t.value,
                "last_epoch": max(t.intermediate_values) if t.intermediate_values else None,
                "seconds": t.user_attrs.get("seconds", {}).get("total"),
                "built": [g for g, c in t.user_attrs.get("cache", {}).items() if c == "built"],
            }
            for t in trials
        ],
    }
    if best is not None:
        best_params = {k: best.params[k] for k in cfg.tune.space if k in best.params}
        cmd = dvc_command(best_params)
        header = (
            f"Best params of study '{s.study_name}': trial #{best.number}, objective {best.value:.4f} on the tuning split\n"
            f"({metric_desc}); the default params scored {baseline.value:.4f}.\n"
            if baseline
            else f"Best params of study '{s.study_name}': trial #{best.number}, objective {best.value:.4f} on the tuning split.\n"
        )
        header += (
            "Apply:  "
            + cmd
            + "\n"
            + "   or:  avsal "
            + " ".join(f"-S {k}={format_value(v)}" for k, v in best_params.items())
            + " <command>\n"
        )
        if cfg.tune.fixed:
            header += f"The campaign also fixed {dict(cfg.tune.fixed)} for every trial (not part of these params).\n"
        write_best_params(out_dir / "best_params.yaml", best_params, header=header)
        summary["best"] = {
            "trial": best.number,
            "objective": best.value,
            "params": best_params,
            "tuning_per_set": best.user_attrs.get("table"),
        }
        summary["dvc_command"] = cmd
        say(f"best trial #{best.number}: {best.value:.4f} -> {out_dir / 'best_params.yaml'}")
        say(f"apply with:\n  {cmd}")
    if baseline is not None:
        summary["baseline"] = {
            "trial": baseline.number,
            "objective": baseline.value,
            "params": {k: baseline.params[k] for k in cfg.tune.space if k in baseline.params},
            "tuning_per_set": baseline.user_attrs.get("table"),
        }
    if report and best is not None:
        summary["reporting"] = {
            "best": reporting_score(cfg, summary["best"]["params"], name=f"trial #{best.number}")
        }
        if baseline is not None:
            summary["reporting"]["baseline"] = reporting_score(
                cfg, summary["baseline"]["params"], name="the default params"
            )
        summary["reporting"]["note"] = (
            "REPORTING split (evaluate.fold, test side): shown for the record, never used to choose params"
        )
    imp = importances(s)
    summary["importances"] = {k: round(float(v), 4) for k, v in imp.items()}
    figs = {
        "history.png": history_figure(s, baseline_number=baseline.number if baseline else None),
        "importances.png": importance_figure(imp),
    }
    for name, fig in figs.items():
        fig.savefig(out_dir / name, dpi=120, bbox_inches="tight")
    atomic_write_json(out_dir / "summary.json", summary)
    if parent is not None and getattr(parent, "enabled", False):
        for name, fig in figs.items():
            parent.log_figure(fig, name)
        for name in ("best_params.yaml", "summary.json"):
            if (out_dir / name).is_file():
                parent.log_artifact(out_dir / name)
        m: dict[str, float] = {
            "trials_complete": counts.get("COMPLETE", 0),
            "trials_pruned": counts.get("PRUNED", 0),
            "trials_failed": counts.get("FAIL", 0),
            "wall_seconds": wall_seconds,
        }
        if best is not None:
            m["best_objective"] = best.value
        if baseline is not None:
            m["baseline_objective"] = baseline.value
        for who, rep in summary.get("reporting", {}).items():
            if isinstance(rep, dict):
                m[f"reporting/{who}_objective"] = rep["objective"]
                m.update({f"reporting/{who}_{k}": v for k, v in rep["metrics"].items()})
        parent.log_metrics(m)
        parent.set_tags(
            {
                "avsal.tune.best_trial": best.number if best else "",
                "avsal.tune.dvc_command": summary.get("dvc_command", ""),
            }
        )
    summary["outputs"] = str(out_dir)
    return summary


def _span(trials: list[optuna.trial.FrozenTrial]) -> float | None:
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    if not starts or not ends:
        return None
    return round((max(ends) - min(starts)).total_seconds(), 1)
