"""The Optuna side of a campaign: storage, sampler, pruner, and the study with its checks.

A study is created once (with its campaign digest and the baseline trial first) and resumed by
every later campaign with the same ``tune`` section; a trial whose worker stopped heart-beating
is failed and re-queued (:class:`OnStaleTrial`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import warnings
from collections import Counter
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from avsal.config import Config, ConfigError, with_overrides
from avsal.tuning.space import (
    baseline_params,
)
from avsal.tuning.storage import open_storage, resolve_url
from avsal.tuning.trial import TunePaths

if TYPE_CHECKING:  # pragma: no cover
    from avsal.tuning.runs import Tracking
from avsal.utils.hashing import digest

__all__ = [
    "say",
    "check_name",
    "storage_url",
    "campaign_digest",
    "make_sampler",
    "make_pruner",
    "sta_epochs",
    "limit_threads",
    "OnStaleTrial",
    "open_trial_storage",
    "check_study",
    "open_study",
    "create_or_load",
    "jsonable",
    "counts",
]


ATTR_PARENT = "avsal.mlflow_parent_run_id"
ATTR_DIGEST = "avsal.campaign_digest"
ATTR_CREATED = "avsal.created_at"
ATTR_TUNE = "avsal.tune"
TEST_SLEEP_ENV = "AVSAL_TUNE_TEST_SLEEP"  # tests: seconds each trial sleeps first (to be killed)
STORAGE_ENV = "AVSAL_TUNE_STORAGE"  # how the coordinator hands the URL to its workers (not argv)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def say(msg: str) -> None:
    print(f"[avsal tune] {msg}", file=sys.stderr, flush=True)


def check_name(study: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", study):
        raise ValueError(
            f"study name {study!r}: use letters, digits, '.', '_' and '-' (it names folders)"
        )


def storage_url(cfg: Config, storage: str | None = None) -> str:
    """``--storage``, else ``tune.storage``, else ``sqlite:///<artifacts>/tune/optuna.db``."""
    return resolve_url(storage or cfg.tune.storage or TunePaths(cfg).default_storage)


def campaign_digest(cfg: Config) -> str:
    """What makes trials of one study comparable (a resumed study must not change it)."""
    t = cfg.tune
    return digest(
        {
            "objective": t.objective,
            "split": t.split,
            "sets": t.sets,
            "fixed": t.fixed,
            "space": t.space,
        }
    )


def make_sampler(cfg: Config, index: int = 0) -> optuna.samplers.BaseSampler:
    s = cfg.tune.sampler
    if s.name == "random":
        return optuna.samplers.RandomSampler(seed=s.seed + index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # constant liar: running trials of other workers count as bad, so workers spread out
        return optuna.samplers.TPESampler(
            seed=s.seed + index, n_startup_trials=s.n_startup_trials, constant_liar=True
        )


def sta_epochs(cfg: Config) -> int:
    return (
        with_overrides(cfg, dict(cfg.tune.fixed)).sta.train.epochs
        if cfg.tune.fixed
        else cfg.sta.train.epochs
    )


def make_pruner(cfg: Config) -> optuna.pruners.BasePruner:
    p = cfg.tune.pruner
    if p.name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps
        )
    if p.name == "hyperband":
        top = "auto" if "sta.train.epochs" in cfg.tune.space else max(sta_epochs(cfg), 1)
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=top, reduction_factor=3)
    return optuna.pruners.NopPruner()


def limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))
    with contextlib.suppress(Exception):
        import cv2

        cv2.setNumThreads(max(1, threads))


class OnStaleTrial:
    """Heartbeat-stale trial (its worker died): FAIL (done by Optuna), re-queue, close its run."""

    def __init__(self, max_retry: int, tracking: Tracking) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        self.max_retry = max_retry
        self.tracking = tracking

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.retry(study, trial)
        n = len(trial.system_attrs.get("retry_history", [])) + 1
        say(
            f"trial #{trial.number} lost its worker (no heartbeat): FAIL"
            + (
                f", re-queued (retry {n}/{self.max_retry})"
                if n <= self.max_retry
                else ", retries exhausted"
            )
        )
        self.tracking.mark_failed(
            trial.user_attrs.get("mlflow_run_id"), "worker died (no heartbeat)"
        )


def open_trial_storage(cfg: Config, url: str, tracking: Tracking) -> optuna.storages.BaseStorage:
    return open_storage(
        url,
        heartbeat_interval=cfg.tune.heartbeat_interval,
        grace_period=cfg.tune.grace_period,
        stale_callback=OnStaleTrial(cfg.tune.max_retry, tracking),
    )


def check_study(cfg: Config, study: optuna.Study, storage: Any) -> None:
    want = campaign_digest(cfg)
    for _ in range(20):  # a just-created study gets its attrs a moment later
        got = study.user_attrs.get(ATTR_DIGEST)
        if got is not None:
            break
        time.sleep(0.5)
        study = optuna.load_study(study_name=study.study_name, storage=storage)
    if got is not None and got != want:
        raise ConfigError(
            f"{cfg.params_file}: study '{study.study_name}' was created with another tune section "
            "(objective, split, sets, fixed or space); resume it with those params or start a new --study"
        )
    direction = (
        optuna.study.StudyDirection.MAXIMIZE
        if cfg.tune.objective.direction == "maximize"
        else optuna.study.StudyDirection.MINIMIZE
    )
    if study.direction != direction:
        raise ConfigError(
            f"study '{study.study_name}' is a {study.direction.name.lower()} study; "
            f"tune.objective.direction is {cfg.tune.objective.direction}"
        )


def open_study(cfg: Config, study: str, storage: str | None = None) -> optuna.Study:
    """An existing study, for inspection (``study.trials``, ``study.best_trial``...)."""
    st = open_storage(
        storage_url(cfg, storage),
        heartbeat_interval=cfg.tune.heartbeat_interval,
        grace_period=cfg.tune.grace_period,
    )
    return optuna.load_study(study_name=study, storage=st)


def create_or_load(cfg: Config, storage: Any, name: str) -> tuple[optuna.Study, bool]:
    """The study ``name``; a new one gets its campaign digest and the baseline trial first."""
    try:
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            direction=cfg.tune.objective.direction,
            sampler=make_sampler(cfg),
            pruner=make_pruner(cfg),
            load_if_exists=False,
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=name, storage=storage, sampler=make_sampler(cfg), pruner=make_pruner(cfg)
        )
        check_study(cfg, study, storage)
        return study, False
    study.set_user_attr(ATTR_CREATED, time.time())
    study.set_user_attr(ATTR_TUNE, jsonable(dataclasses.asdict(cfg.tune)))
    study.set_user_attr(ATTR_DIGEST, campaign_digest(cfg))
    params, off = baseline_params(cfg)
    off_categorical = [k for k in off if cfg.tune.space[k].type == "categorical"]
    if off:
        say(f"the current value of {off} is outside tune.space")
    if off_categorical:
        say("no baseline trial: a categorical param's current value is not among its choices")
    else:
        study.enqueue_trial(params, user_attrs={"baseline": True})
    return study, True


def jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def counts(study: optuna.Study) -> Counter:
    return Counter(t.state for t in study.get_trials(deepcopy=False))
