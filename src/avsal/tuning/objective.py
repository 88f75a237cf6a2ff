"""The objective: one trial = the pipeline of dvc.yaml with the trial's params, scored on the
tuning split after every STA epoch (the pruner may stop it); one MLflow child run per trial."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any

import optuna

from avsal.config import Config, with_overrides
from avsal.errors import ValidationFailed
from avsal.tuning.runs import Tracking
from avsal.tuning.space import (
    format_value,
    suggest,
)
from avsal.tuning.splits import tuning_videos
from avsal.tuning.study import ATTR_PARENT, TEST_SLEEP_ENV, say
from avsal.tuning.trial import INFEASIBLE, Scorer, TrialPipeline, TunePaths

__all__ = ["Objective"]


class Objective:
    """``objective(trial)``: the tuning-split fixation score of one point of ``tune.space``."""

    def __init__(self, cfg: Config, study: optuna.Study, tracking: Tracking) -> None:
        self.cfg = cfg
        self.study = study
        self.tracking = tracking
        self.paths = TunePaths(cfg, study.study_name)
        self.pipeline = TrialPipeline(cfg)
        self.scorer = Scorer(cfg, tuning_videos(cfg), cfg.tune.objective.metrics)
        self.parent_run_id = study.user_attrs.get(ATTR_PARENT)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.current: int | None = None  # number of the trial this process ran last
        self.on_start: Any = lambda: (
            None
        )  # called once the trial is RUNNING (releases the ask lock)

    def __call__(self, trial: optuna.Trial) -> float:
        self.on_start()
        self.current = trial.number
        params = suggest(trial, self.cfg.tune.space)
        # a re-queued retry carries the number of the trial it repeats (Optuna 5's Trial has no system_attrs)
        frozen = next(t for t in self.study.get_trials(deepcopy=False) if t.number == trial.number)
        retry_of = frozen.system_attrs.get("failed_trial")
        baseline = bool(trial.user_attrs.get("baseline"))
        tags = {
            "avsal.tune.study": self.study.study_name,
            "avsal.tune.trial": trial.number,
            "avsal.tune.worker": self.worker,
            "avsal.tune.baseline": baseline,
            "avsal.tune.state": "RUNNING",
        }
        if retry_of is not None:
            tags["avsal.tune.retry_of"] = retry_of
        what = " (default params)" if baseline else ""
        what += f" (retry of #{retry_of})" if retry_of is not None else ""
        say(
            f"trial #{trial.number} starts{what}: "
            + ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
        )
        pruned: optuna.TrialPruned | None = None
        with self.tracking.child(
            name=f"{self.study.study_name}#{trial.number}",
            parent_run_id=self.parent_run_id,
            tags=tags,
            params={"tune": params, "fixed": dict(self.cfg.tune.fixed)},
        ) as h:
            if h.run_id:
                trial.set_user_attr("mlflow_run_id", h.run_id)
            trial.set_user_attr("worker", self.worker)
            try:
                value = self._evaluate(trial, params, h)
            except optuna.TrialPruned as exc:
                h.set_tags({"avsal.tune.state": "PRUNED"})
                pruned = exc
            except INFEASIBLE as exc:  # a region of the space to steer away from, not a bug
                h.set_tags({"avsal.tune.state": "PRUNED", "avsal.tune.infeasible": str(exc)[:2000]})
                trial.set_user_attr("infeasible", str(exc))
                if isinstance(exc, ValidationFailed):  # the pseudo-GT suite stopped it: its message
                    trial.set_user_attr("validation_failed", str(exc))
                    h.set_tags({"avsal.tune.validation_failed": str(exc)[:2000]})
                pruned = optuna.TrialPruned(f"infeasible: {exc}")
            except KeyboardInterrupt:
                h.set_tags(
                    {
                        "avsal.tune.state": "FAIL",
                        "avsal.tune.error": "interrupted (Ctrl-C): re-queued",
                    }
                )
                with contextlib.suppress(Exception):
                    self.study.enqueue_trial(
                        params, user_attrs={"baseline": baseline, "requeued_from": trial.number}
                    )
                raise
            except Exception as exc:
                h.set_tags({"avsal.tune.state": "FAIL", "avsal.tune.error": repr(exc)[:2000]})
                raise
            else:
                h.set_tags({"avsal.tune.state": "COMPLETE"})
        if pruned is not None:
            say(f"trial #{trial.number} pruned: {pruned}")
            raise pruned
        say(f"trial #{trial.number} complete: objective {value:.4f}")
        return value

    def _evaluate(self, trial: optuna.Trial, params: dict[str, Any], h: Any) -> float:
        t0 = time.perf_counter()
        sleep = float(os.environ.get(TEST_SLEEP_ENV, "0") or 0)
        if sleep > 0:
            time.sleep(sleep)
        cfg_t = with_overrides(
            self.cfg,
            {**self.cfg.tune.fixed, **params},
            source=f"study {self.study.study_name} trial #{trial.number}",
        )
        cache: dict[str, str] = {}
        seconds: dict[str, float] = {}

        def progress(stage: str, e: Any) -> None:
            cache[stage] = "hit" if e.hit else "built"
            seconds[stage] = round(e.seconds, 2)
            say(
                f"trial #{trial.number}: {stage:<24} {'cache hit' if e.hit else f'built in {e.seconds:.1f} s'} ({e.key})"
            )

        def score_epoch(model: Any, epoch: int, c: Config) -> dict[str, float]:
            return {"tune_objective": self.scorer.objective(self.scorer.table(c, model))}

        reported: set[int] = set()

        def on_epoch(epoch: int, record: dict[str, Any]) -> None:
            value = float(record["eval/tune_objective"])
            trial.report(value, epoch)
            reported.add(epoch)
            h.log_metrics({"tune_objective": value}, step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(
                    f"STA epoch {epoch + 1}: objective {value:.4f} below the pruner's bar"
                )

        try:
            entries = self.pipeline.entries(
                cfg_t, score_epoch=score_epoch, on_epoch=on_epoch, progress=progress
            )
        finally:  # pruned and failed trials keep what they reused and built too
            trial.set_user_attr("cache", cache)
            trial.set_user_attr("seconds", {**seconds, "total": round(time.perf_counter() - t0, 2)})
        folder = self.paths.study_dir / "trials" / f"{trial.number:04d}"
        cfg_ws = self.pipeline.workspace(cfg_t, folder, entries)
        from avsal.stages.common import load_sta

        table = self.scorer.table(cfg_ws, load_sta(cfg_ws))
        value = self.scorer.objective(table)
        last = cfg_t.sta.train.epochs - 1
        if last not in reported:
            trial.report(value, last)  # a cached STA still gives the pruner its final value
        total = round(time.perf_counter() - t0, 2)
        trial.set_user_attr("cache", cache)
        trial.set_user_attr("seconds", {**seconds, "total": total})
        trial.set_user_attr("table", table)
        trial.set_user_attr("keys", {name: e.key for name, e in entries.items()})
        metrics = {
            "objective": value,
            "seconds/total": total,
            **{f"seconds/{g}": s for g, s in seconds.items()},
        }
        metrics.update({f"tuning/{s}/{m}": v for s, ms in table.items() for m, v in ms.items()})
        h.log_metrics(metrics)
        h.set_tags({f"avsal.tune.cache.{g}": c for g, c in cache.items()})
        return value
