"""Hyper-parameter campaigns with Optuna: the only package that imports optuna.

``avsal tune --study NAME --trials N --workers K [--storage URL]`` (``make tune``) searches
``tune.space`` of params.yaml (SCAM threshold multiplier, lambda, fusion rule, pseudo-GT
post-processing, evaluation blur, learning rates) for the best fixation score on the TUNING split
of the eye-tracking videos (``tune.split``), which must not overlap the REPORTING split
(``evaluate.fold``).  Trials share stage outputs through a content-addressed cache, STA epochs
feed a pruner, workers share one study (sqlite, journal file or PostgreSQL) with heartbeats, and
MLflow gets one parent run per study and one child run per trial.  Results:
``<reports>/tune/<study>/best_params.yaml`` (``dvc exp run -S`` keys), ``history.png``,
``importances.png``, ``summary.json``.

Modules: ``workers`` (coordinator and worker processes), ``study`` (Optuna storage, sampler,
pruner, the study), ``objective`` (one trial), ``runs`` (its MLflow runs), ``report`` (the
study's outputs), ``trial`` (a trial = dvc.yaml's stages on the cache, STA with per-epoch scoring,
the evaluate stage's scorer), ``graph`` (dvc.yaml read by DVC), ``cache`` (content-addressed entries),
``space`` (suggestions, baseline, best_params.yaml), ``splits`` (tuning vs reporting videos),
``storage`` (Optuna storages with heartbeats), ``plots``.
"""

from avsal.tuning.report import finalize, reporting_score
from avsal.tuning.space import baseline_params, dvc_command, read_best_params, write_best_params
from avsal.tuning.splits import SplitOverlapError, check_splits, reporting_videos, tuning_videos
from avsal.tuning.study import open_study, storage_url
from avsal.tuning.workers import run_campaign, run_worker

__all__ = [
    "run_campaign",
    "run_worker",
    "finalize",
    "open_study",
    "reporting_score",
    "storage_url",
    "baseline_params",
    "dvc_command",
    "read_best_params",
    "write_best_params",
    "SplitOverlapError",
    "check_splits",
    "reporting_videos",
    "tuning_videos",
]
