"""Campaigns: a coordinator spawns worker processes that share one Optuna study.

``run_campaign`` (``avsal tune``) checks the splits, creates or resumes the study (the first
trial of a new study is the current params: the baseline), opens the study's MLflow parent run,
decodes the data once, starts ``workers`` processes (``avsal tune --worker``), follows them, and
writes ``<reports>/tune/<study>/``: ``best_params.yaml``, ``history.png``, ``importances.png``
and ``summary.json`` (with the reporting-split score of the best params next to the default's).

``run_worker`` loops ``study.optimize(n_trials=1)`` until the study holds ``trials`` finished
(complete or pruned) trials.  Each trial: params from ``tune.space`` -> its config -> cache
entries (:mod:`avsal.tuning.pipeline`) -> STA, scored on the tuning split after every epoch (the
pruner may stop it) -> the objective; one MLflow child run under the study's parent run.

Resilience: Ctrl-C stops every process; the interrupted trials are FAIL and re-queued with the
same params, so rerunning the same command resumes the study (and the interrupted training
resumes from its last epoch checkpoint).  A SIGKILLed worker's trial stops heart-beating: after
``tune.grace_period`` seconds a live worker (or the rerun) marks it FAIL and re-queues it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from avsal.config import Config, ConfigError
from avsal.tuning.cache import digest
from avsal.tuning.pipeline import (
    Infeasible,
    Scorer,
    TrialPipeline,
    TunePaths,
    apply_params,
    load_sta,
)
from avsal.tuning.space import (
    baseline_params,
    dvc_command,
    format_value,
    suggest,
    write_best_params,
)
from avsal.tuning.splits import check_splits, reporting_videos, tuning_videos
from avsal.tuning.storage import open_storage, redact, resolve_url, shown_url

__all__ = ["run_campaign", "run_worker", "finalize", "reporting_score", "storage_url", "open_study", "TEST_SLEEP_ENV", "STORAGE_ENV"]

log = logging.getLogger(__name__)

ATTR_PARENT = "avsal.mlflow_parent_run_id"
ATTR_DIGEST = "avsal.campaign_digest"
ATTR_CREATED = "avsal.created_at"
ATTR_TUNE = "avsal.tune"
TEST_SLEEP_ENV = "AVSAL_TUNE_TEST_SLEEP"  # tests: seconds each trial sleeps first (to be killed)
STORAGE_ENV = "AVSAL_TUNE_STORAGE"  # how the coordinator hands the URL to its workers (not argv)
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _say(msg: str) -> None:
    print(f"[avsal tune] {msg}", file=sys.stderr, flush=True)


def _check_name(study: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", study):
        raise ValueError(f"study name {study!r}: use letters, digits, '.', '_' and '-' (it names folders)")


def storage_url(cfg: Config, storage: str | None = None) -> str:
    """``--storage``, else ``tune.storage``, else ``sqlite:///<artifacts>/tune/optuna.db``."""
    return resolve_url(storage or cfg.tune.storage or TunePaths(cfg).default_storage)


def campaign_digest(cfg: Config) -> str:
    """What makes trials of one study comparable (a resumed study must not change it)."""
    t = cfg.tune
    return digest({"objective": t.objective, "split": t.split, "sets": t.sets, "fixed": t.fixed, "space": t.space})


def make_sampler(cfg: Config, index: int = 0) -> optuna.samplers.BaseSampler:
    s = cfg.tune.sampler
    if s.name == "random":
        return optuna.samplers.RandomSampler(seed=s.seed + index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # constant liar: running trials of other workers count as bad, so workers spread out
        return optuna.samplers.TPESampler(seed=s.seed + index, n_startup_trials=s.n_startup_trials, constant_liar=True)


def sta_epochs(cfg: Config) -> int:
    return apply_params(cfg, dict(cfg.tune.fixed)).sta.train.epochs if cfg.tune.fixed else cfg.sta.train.epochs


def make_pruner(cfg: Config) -> optuna.pruners.BasePruner:
    p = cfg.tune.pruner
    if p.name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps)
    if p.name == "hyperband":
        top = "auto" if "sta.train.epochs" in cfg.tune.space else max(sta_epochs(cfg), 1)
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=top, reduction_factor=3)
    return optuna.pruners.NopPruner()


def _limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))
    with contextlib.suppress(Exception):
        import cv2

        cv2.setNumThreads(max(1, threads))


# ----------------------------------------------------------------------------- MLflow side


class _Tracking:
    """The study's MLflow runs: a parent per study, a child per trial (no-op when disabled)."""

    def __init__(self, cfg: Config, enabled: bool) -> None:
        from avsal.tracking import Tracker, find_repo_root

        try:
            root = find_repo_root()
        except FileNotFoundError:
            root = Path.cwd()
        self.enabled = enabled
        self.tracker = Tracker(experiment=cfg.project.name, repo_root=root, stage="tune", enabled=enabled,
                               mlflow_db=cfg.paths.mlflow_db, mlflow_artifacts=cfg.paths.mlflow_artifacts)

    def handle(self, run_id: str) -> Any:
        from avsal.tracking import RunHandle

        return RunHandle(run_id=run_id, experiment_id=str(self.tracker.experiment_id), tracking_uri=str(self.tracker.tracking_uri))

    @contextlib.contextmanager
    def parent(self, study: optuna.Study, *, created: bool, params: dict[str, Any], tags: dict[str, Any]) -> Iterator[Any]:
        """The study's one parent run: made by the process that created the study (others wait
        for its id in the study's user attrs), reopened by every later campaign on the study."""
        if not self.enabled:
            from avsal.tracking import NullRunHandle

            yield NullRunHandle()
            return
        run_id = study.user_attrs.get(ATTR_PARENT)
        if run_id is None and not created:
            born = float(study.user_attrs.get(ATTR_CREATED, 0))
            while run_id is None and time.time() - born < 120:  # its creator is making it now
                time.sleep(1.0)
                run_id = optuna.load_study(study_name=study.study_name, storage=study._storage).user_attrs.get(ATTR_PARENT)
        if run_id is None:
            with self.tracker.run(f"tune:{study.study_name}", params=params, tags=tags) as h:
                study.set_user_attr(ATTR_PARENT, h.run_id)
                yield h
            return
        with self.tracker.reopen_run(run_id) as h:
            yield h

    def child(self, *, name: str, params: dict[str, Any], tags: dict[str, Any], parent_run_id: str | None) -> Any:
        return self.tracker.run(name, params=params, tags=tags, parent_run_id=parent_run_id)

    def mark_failed(self, run_id: str | None, reason: str) -> None:
        if not (self.enabled and run_id):
            return
        with contextlib.suppress(Exception):
            h = self.handle(run_id)
            h.set_tags({"avsal.tune.state": "FAIL", "avsal.tune.error": reason})
            h.client.set_terminated(run_id, status="FAILED")


class _OnStaleTrial:
    """Heartbeat-stale trial (its worker died): FAIL (done by Optuna), re-queue, close its run."""

    def __init__(self, max_retry: int, tracking: _Tracking) -> None:
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
        _say(f"trial #{trial.number} lost its worker (no heartbeat): FAIL" + (f", re-queued (retry {n}/{self.max_retry})" if n <= self.max_retry else ", retries exhausted"))
        self.tracking.mark_failed(trial.user_attrs.get("mlflow_run_id"), "worker died (no heartbeat)")


# ----------------------------------------------------------------------------- study


def _open(cfg: Config, url: str, tracking: _Tracking) -> optuna.storages.BaseStorage:
    return open_storage(url, heartbeat_interval=cfg.tune.heartbeat_interval, grace_period=cfg.tune.grace_period,
                        stale_callback=_OnStaleTrial(cfg.tune.max_retry, tracking))


def _check_study(cfg: Config, study: optuna.Study) -> None:
    want = campaign_digest(cfg)
    for _ in range(20):  # a just-created study gets its attrs a moment later
        got = study.user_attrs.get(ATTR_DIGEST)
        if got is not None:
            break
        time.sleep(0.5)
        study = optuna.load_study(study_name=study.study_name, storage=study._storage)
    if got is not None and got != want:
        raise ConfigError(
            f"{cfg.params_file}: study '{study.study_name}' was created with another tune section "
            "(objective, split, sets, fixed or space); resume it with those params or start a new --study"
        )
    direction = optuna.study.StudyDirection.MAXIMIZE if cfg.tune.objective.direction == "maximize" else optuna.study.StudyDirection.MINIMIZE
    if study.direction != direction:
        raise ConfigError(f"study '{study.study_name}' is a {study.direction.name.lower()} study; tune.objective.direction is {cfg.tune.objective.direction}")


def open_study(cfg: Config, study: str, storage: str | None = None) -> optuna.Study:
    """An existing study, for inspection (``study.trials``, ``study.best_trial``...)."""
    st = open_storage(storage_url(cfg, storage), heartbeat_interval=cfg.tune.heartbeat_interval, grace_period=cfg.tune.grace_period)
    return optuna.load_study(study_name=study, storage=st)


def create_or_load(cfg: Config, storage: Any, name: str) -> tuple[optuna.Study, bool]:
    """The study ``name``; a new one gets its campaign digest and the baseline trial first."""
    try:
        study = optuna.create_study(study_name=name, storage=storage, direction=cfg.tune.objective.direction,
                                    sampler=make_sampler(cfg), pruner=make_pruner(cfg), load_if_exists=False)
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(cfg), pruner=make_pruner(cfg))
        _check_study(cfg, study)
        return study, False
    study.set_user_attr(ATTR_CREATED, time.time())
    study.set_user_attr(ATTR_TUNE, _jsonable(dataclasses.asdict(cfg.tune)))
    study.set_user_attr(ATTR_DIGEST, campaign_digest(cfg))
    params, off = baseline_params(cfg)
    off_categorical = [k for k in off if cfg.tune.space[k].type == "categorical"]
    if off:
        _say(f"the current value of {off} is outside tune.space")
    if off_categorical:
        _say("no baseline trial: a categorical param's current value is not among its choices")
    else:
        study.enqueue_trial(params, user_attrs={"baseline": True})
    return study, True


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def _counts(study: optuna.Study) -> Counter:
    return Counter(t.state for t in study.get_trials(deepcopy=False))


# ----------------------------------------------------------------------------- a trial


class Objective:
    """``objective(trial)``: the tuning-split fixation score of one point of ``tune.space``."""

    def __init__(self, cfg: Config, study: optuna.Study, tracking: _Tracking) -> None:
        self.cfg = cfg
        self.study = study
        self.tracking = tracking
        self.paths = TunePaths(cfg, study.study_name)
        self.pipeline = TrialPipeline(cfg)
        self.scorer = Scorer(cfg, tuning_videos(cfg), cfg.tune.objective.metrics)
        self.parent_run_id = study.user_attrs.get(ATTR_PARENT)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.current: int | None = None  # number of the trial this process ran last
        self.on_start: Any = lambda: None  # called once the trial is RUNNING (releases the ask lock)

    def __call__(self, trial: optuna.Trial) -> float:
        self.on_start()
        self.current = trial.number
        params = suggest(trial, self.cfg.tune.space)
        frozen = trial.storage.get_trial(trial._trial_id)  # Optuna 5's Trial has no system_attrs
        retry_of = frozen.system_attrs.get("failed_trial")
        baseline = bool(trial.user_attrs.get("baseline"))
        tags = {"avsal.tune.study": self.study.study_name, "avsal.tune.trial": trial.number, "avsal.tune.worker": self.worker,
                "avsal.tune.baseline": baseline, "avsal.tune.state": "RUNNING"}
        if retry_of is not None:
            tags["avsal.tune.retry_of"] = retry_of
        _say(f"trial #{trial.number} starts{' (default params)' if baseline else ''}{f' (retry of #{retry_of})' if retry_of is not None else ''}: "
             + ", ".join(f"{k}={format_value(v)}" for k, v in params.items()))
        pruned: optuna.TrialPruned | None = None
        with self.tracking.child(name=f"{self.study.study_name}#{trial.number}", parent_run_id=self.parent_run_id, tags=tags,
                                 params={"tune": params, "fixed": dict(self.cfg.tune.fixed)}) as h:
            if h.run_id:
                trial.set_user_attr("mlflow_run_id", h.run_id)
            trial.set_user_attr("worker", self.worker)
            try:
                value = self._evaluate(trial, params, h)
            except optuna.TrialPruned as exc:
                h.set_tags({"avsal.tune.state": "PRUNED"})
                pruned = exc
            except Infeasible as exc:  # a region of the space to steer away from, not a bug
                h.set_tags({"avsal.tune.state": "PRUNED", "avsal.tune.infeasible": str(exc)[:2000]})
                trial.set_user_attr("infeasible", str(exc))
                pruned = optuna.TrialPruned(f"infeasible: {exc}")
            except KeyboardInterrupt:
                h.set_tags({"avsal.tune.state": "FAIL", "avsal.tune.error": "interrupted (Ctrl-C): re-queued"})
                with contextlib.suppress(Exception):
                    self.study.enqueue_trial(params, user_attrs={"baseline": baseline, "requeued_from": trial.number})
                raise
            except Exception as exc:
                h.set_tags({"avsal.tune.state": "FAIL", "avsal.tune.error": repr(exc)[:2000]})
                raise
            else:
                h.set_tags({"avsal.tune.state": "COMPLETE"})
        if pruned is not None:
            _say(f"trial #{trial.number} pruned: {pruned}")
            raise pruned
        _say(f"trial #{trial.number} complete: objective {value:.4f}")
        return value

    def _evaluate(self, trial: optuna.Trial, params: dict[str, Any], h: Any) -> float:
        t0 = time.perf_counter()
        sleep = float(os.environ.get(TEST_SLEEP_ENV, "0") or 0)
        if sleep > 0:
            time.sleep(sleep)
        cfg_t = apply_params(self.cfg, {**self.cfg.tune.fixed, **params}, source=f"study {self.study.study_name} trial #{trial.number}")
        cache: dict[str, str] = {}
        seconds: dict[str, float] = {}

        def progress(group: str, e: Any) -> None:
            cache[group] = "hit" if e.hit else "built"
            seconds[group] = round(e.seconds, 2)
            _say(f"trial #{trial.number}: {group:<11} {'cache hit' if e.hit else f'built in {e.seconds:.1f} s'} ({e.key})")

        def sta_epoch(model: Any, epoch: int, c: Config) -> float:
            return self.scorer.objective(self.scorer.table(c, model))

        reported: set[int] = set()

        def on_sta_epoch(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            reported.add(epoch)
            h.log_metrics({"tune_objective": value}, step=epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"STA epoch {epoch + 1}: objective {value:.4f} below the pruner's bar")

        try:
            entries = self.pipeline.entries(cfg_t, sta_epoch=sta_epoch, on_sta_epoch=on_sta_epoch, progress=progress)
        finally:  # pruned and failed trials keep what they reused and built too
            trial.set_user_attr("cache", cache)
            trial.set_user_attr("seconds", {**seconds, "total": round(time.perf_counter() - t0, 2)})
        folder = self.paths.study_dir / "trials" / f"{trial.number:04d}"
        cfg_ws = self.pipeline.workspace(cfg_t, folder, entries)
        table = self.scorer.table(cfg_ws, load_sta(cfg_ws))
        value = self.scorer.objective(table)
        last = cfg_t.sta.train.epochs - 1
        if last not in reported:
            trial.report(value, last)  # a cached STA still gives the pruner its final value
        total = round(time.perf_counter() - t0, 2)
        trial.set_user_attr("cache", cache)
        trial.set_user_attr("seconds", {**seconds, "total": total})
        trial.set_user_attr("table", table)
        trial.set_user_attr("keys", {g: e.key for g, e in entries.items()})
        metrics = {"objective": value, "seconds/total": total, **{f"seconds/{g}": s for g, s in seconds.items()}}
        metrics.update({f"tuning/{s}/{m}": v for s, ms in table.items() for m, v in ms.items()})
        h.log_metrics(metrics)
        h.set_tags({f"avsal.tune.cache.{g}": c for g, c in cache.items()})
        return value


# ----------------------------------------------------------------------------- worker


class _AskLock:
    """Serialises "is there budget left? -> ask for a trial" between this machine's workers, so
    a campaign does not overshoot its budget (workers on other machines may, by one trial each).
    Released as soon as the new trial is RUNNING in the storage (first line of the objective)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        if self.fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)  # closing releases the flock


def run_worker(cfg: Config, *, study: str, trials: int, storage: str | None = None, index: int = 0, threads: int = 1,
               track: bool = True) -> dict[str, Any]:
    """Run trials of ``study`` until it holds ``trials`` finished ones (shared by all workers)."""
    _check_name(study)
    _limit_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url(cfg, storage or os.environ.get(STORAGE_ENV))
    tracking = _Tracking(cfg, track)
    st = _open(cfg, url, tracking)
    s = optuna.load_study(study_name=study, storage=st, sampler=make_sampler(cfg, index), pruner=make_pruner(cfg))
    _check_study(cfg, s)
    objective = Objective(cfg, s, tracking)
    lock = _AskLock(objective.paths.study_dir / "ask.lock")
    objective.on_start = lock.release
    ran, failures_in_a_row = 0, 0
    while True:
        lock.acquire()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(s)
            n = _counts(s)
            done = n[TrialState.COMPLETE] + n[TrialState.PRUNED]
            if done >= trials:
                break
            if done + n[TrialState.RUNNING] >= trials:  # the rest is running elsewhere: stay in case one dies
                lock.release()
                time.sleep(min(5.0, cfg.tune.heartbeat_interval))
                continue
            objective.current = None
            s.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
        except KeyboardInterrupt:
            _say(f"worker {index} interrupted: its trial is FAIL and re-queued; rerun to resume")
            raise SystemExit(130) from None
        finally:
            lock.release()
        ran += 1
        mine = [t for t in s.get_trials(deepcopy=False) if t.number == objective.current]
        if not mine or mine[-1].state == TrialState.FAIL:
            failures_in_a_row += 1
            if failures_in_a_row >= 3:
                raise RuntimeError(f"worker {index}: 3 trials in a row failed (see the log above); stopping")
        else:
            failures_in_a_row = 0
    return {"worker": index, "trials_run": ran}


# ----------------------------------------------------------------------------- coordinator


def _frozen_config(cfg: Config, path: Path) -> Path:
    """The campaign's resolved config for its workers (data/artifacts/reports made absolute)."""
    from avsal.utils.io import atomic_write_text

    raw = cfg.to_dict()
    for key in ("data", "ave_root", "fixation_root", "artifacts", "reports"):
        raw["paths"][key] = str(Path(raw["paths"][key]).resolve())
    return atomic_write_text(path, yaml.safe_dump(_jsonable(raw), sort_keys=False))


def _spawn(cfg_file: Path, *, study: str, trials: int, url: str, index: int, threads: int, track: bool, logfile: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "avsal.cli", "--params", str(cfg_file), "tune", "--study", study, "--trials", str(trials),
           "--worker", "--worker-index", str(index), "--threads", str(threads)]
    if not track:
        cmd.append("--no-mlflow")
    env = {**os.environ, STORAGE_ENV: url, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    logfile.parent.mkdir(parents=True, exist_ok=True)
    out = open(logfile, "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    finally:
        out.close()


def _tail(path: Path, n: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def run_campaign(cfg: Config, *, study: str, trials: int, workers: int = 1, storage: str | None = None, track: bool = True,
                 report: bool = True) -> dict[str, Any]:
    """``avsal tune``: run (or resume) study ``study`` to ``trials`` finished trials with
    ``workers`` processes, then write its report.  See the module docstring."""
    if trials < 0 or workers < 1:
        raise ValueError(f"--trials must be >= 0 and --workers >= 1 (got {trials}, {workers})")
    _check_name(study)
    if not cfg.tune.space:
        raise ConfigError(f"{cfg.params_file}: tune.space is empty: nothing to tune")
    sizes = check_splits(cfg)
    t0 = time.time()
    paths = TunePaths(cfg, study)
    url = storage_url(cfg, storage)
    tracking = _Tracking(cfg, track)
    st = _open(cfg, url, tracking)
    s, created = create_or_load(cfg, st, study)
    _say(f"study '{study}' {'created' if created else 'resumed'} in {redact(url)}; tuning split {sizes}")
    params = {"tune": _jsonable(dataclasses.asdict(cfg.tune)), "storage": redact(url), "budget_trials": trials}
    tags = {"avsal.tune.study": study, "avsal.tune.parent": True}
    with tracking.parent(s, created=created, params=params, tags=tags) as parent:
        pipeline = TrialPipeline(cfg)
        e = pipeline.prepared(cfg)  # decode once, before the workers need it
        _say(f"prepared data: {'cache hit' if e.hit else f'decoded in {e.seconds:.1f} s'} ({e.root})")
        n = _counts(s)
        if n[TrialState.COMPLETE] + n[TrialState.PRUNED] < trials:
            _run_workers(cfg, s, study=study, trials=trials, workers=workers, url=url, track=track, paths=paths)
        result = finalize(cfg, s, parent=parent, wall_seconds=time.time() - t0, budget=trials, url=url, report=report)
    return result


def _run_workers(cfg: Config, s: optuna.Study, *, study: str, trials: int, workers: int, url: str, track: bool, paths: TunePaths) -> None:
    cfg_file = _frozen_config(cfg, paths.study_dir / "config.yaml")
    threads = max(1, (os.cpu_count() or 1) // workers)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = [paths.study_dir / "logs" / f"{stamp}-worker{k}.log" for k in range(workers)]
    procs = [_spawn(cfg_file, study=study, trials=trials, url=url, index=k, threads=threads, track=track, logfile=logs[k])
             for k in range(workers)]
    _say(f"{workers} worker(s), {threads} thread(s) each; logs: {paths.study_dir / 'logs'}")
    seen: set[int] = {t.number for t in s.get_trials(deepcopy=False) if t.state.is_finished()}
    try:
        while True:
            alive = [p for p in procs if p.poll() is None]
            for t in s.get_trials(deepcopy=False):
                if t.state.is_finished() and t.number not in seen:
                    seen.add(t.number)
                    n = _counts(s)
                    best = _best(s)
                    value = f"{t.value:.4f}" if t.value is not None else "-"
                    _say(f"#{t.number} {t.state.name} {value}  [{n[TrialState.COMPLETE] + n[TrialState.PRUNED]}/{trials} finished"
                         + (f"; best {best.value:.4f} (#{best.number})" if best else "") + "]")
            if not alive:
                break
            time.sleep(2.0)
    except KeyboardInterrupt:
        _say("interrupted: stopping the workers (their trials are re-queued); rerun the same command to resume")
        _stop(procs)
        raise
    bad = [(k, p.returncode) for k, p in enumerate(procs) if p.returncode != 0]
    for k, rc in bad:
        _say(f"worker {k} exited with {rc}; the end of {logs[k]}:\n{_tail(logs[k])}")


def _stop(procs: list[subprocess.Popen]) -> None:
    """Workers of a terminal's Ctrl-C got the SIGINT too: give them time to re-queue their trials
    and exit; then SIGINT the others (a coordinator interrupted alone), then kill what is left."""
    for signum, grace in ((None, 15.0), (signal.SIGINT, 45.0), (signal.SIGKILL, 5.0)):
        alive = [p for p in procs if p.poll() is None]
        if not alive:
            return
        for p in alive:
            if signum is not None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signum)
        deadline = time.time() + grace
        for p in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=max(0.1, deadline - time.time()))


def _best(s: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return s.best_trial
    except ValueError:
        return None


# ----------------------------------------------------------------------------- outputs


def reporting_score(cfg: Config, params: dict[str, Any], *, name: str) -> dict[str, Any]:
    """The paper's five metrics of the STA net trained with ``params`` on the REPORTING split
    (what ``dvc repro``'s evaluate reports), from the cache.  Never used to choose params."""
    from avsal.metrics.engine import PAPER_METRICS

    paths = TunePaths(cfg, None)
    cfg_p = apply_params(cfg, {**cfg.tune.fixed, **params}, source=f"reporting score of {name}")
    pipeline = TrialPipeline(cfg)
    entries = pipeline.entries(cfg_p)
    cfg_ws = pipeline.workspace(cfg_p, paths.root / "reporting" / digest(params), entries)
    scorer = Scorer(cfg, reporting_videos(cfg), PAPER_METRICS)
    table = scorer.table(cfg_ws, load_sta(cfg_ws))
    return {"objective": scorer.objective(table, cfg.tune.objective.metrics), "metrics": _mean_table(table), "per_set": table}


def _mean_table(table: dict[str, dict[str, float]]) -> dict[str, float]:
    import numpy as np

    metrics = sorted({m for ms in table.values() for m in ms})
    return {m: round(float(np.mean([ms[m] for ms in table.values() if m in ms])), 4) for m in metrics}


def finalize(cfg: Config, s: optuna.Study, *, parent: Any = None, wall_seconds: float = 0.0, budget: int | None = None,
             url: str = "", report: bool = True) -> dict[str, Any]:
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
    best = _best(s)
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
        "per_trial": [{"trial": t.number, "state": t.state.name, "value": t.value,
                       "last_epoch": max(t.intermediate_values) if t.intermediate_values else None,
                       "seconds": t.user_attrs.get("seconds", {}).get("total"),
                       "built": [g for g, c in t.user_attrs.get("cache", {}).items() if c == "built"]} for t in trials],
    }
    if best is not None:
        best_params = {k: best.params[k] for k in cfg.tune.space if k in best.params}
        cmd = dvc_command(best_params)
        header = (f"Best params of study '{s.study_name}': trial #{best.number}, objective {best.value:.4f} on the tuning split\n"
                  f"({metric_desc}); the default params scored {baseline.value:.4f}.\n" if baseline else
                  f"Best params of study '{s.study_name}': trial #{best.number}, objective {best.value:.4f} on the tuning split.\n")
        header += ("Apply:  " + cmd + "\n" + "   or:  avsal " + " ".join(f"-S {k}={format_value(v)}" for k, v in best_params.items()) + " <command>\n")
        if cfg.tune.fixed:
            header += f"The campaign also fixed {dict(cfg.tune.fixed)} for every trial (not part of these params).\n"
        write_best_params(out_dir / "best_params.yaml", best_params, header=header)
        summary["best"] = {"trial": best.number, "objective": best.value, "params": best_params, "tuning_per_set": best.user_attrs.get("table")}
        summary["dvc_command"] = cmd
        _say(f"best trial #{best.number}: {best.value:.4f} -> {out_dir / 'best_params.yaml'}")
        _say(f"apply with:\n  {cmd}")
    if baseline is not None:
        summary["baseline"] = {"trial": baseline.number, "objective": baseline.value,
                               "params": {k: baseline.params[k] for k in cfg.tune.space if k in baseline.params},
                               "tuning_per_set": baseline.user_attrs.get("table")}
    if report and best is not None:
        summary["reporting"] = {"best": reporting_score(cfg, summary["best"]["params"], name=f"trial #{best.number}")}
        if baseline is not None:
            summary["reporting"]["baseline"] = reporting_score(cfg, summary["baseline"]["params"], name="the default params")
        summary["reporting"]["note"] = "REPORTING split (evaluate.fold, test side): shown for the record, never used to choose params"
    imp = importances(s)
    summary["importances"] = {k: round(float(v), 4) for k, v in imp.items()}
    figs = {"history.png": history_figure(s, baseline_number=baseline.number if baseline else None), "importances.png": importance_figure(imp)}
    for name, fig in figs.items():
        fig.savefig(out_dir / name, dpi=120, bbox_inches="tight")
    atomic_write_json(out_dir / "summary.json", summary)
    if parent is not None and getattr(parent, "enabled", False):
        for name, fig in figs.items():
            parent.log_figure(fig, name)
        for name in ("best_params.yaml", "summary.json"):
            if (out_dir / name).is_file():
                parent.log_artifact(out_dir / name)
        m: dict[str, float] = {"trials_complete": counts.get("COMPLETE", 0), "trials_pruned": counts.get("PRUNED", 0),
                               "trials_failed": counts.get("FAIL", 0), "wall_seconds": wall_seconds}
        if best is not None:
            m["best_objective"] = best.value
        if baseline is not None:
            m["baseline_objective"] = baseline.value
        for who, rep in summary.get("reporting", {}).items():
            if isinstance(rep, dict):
                m[f"reporting/{who}_objective"] = rep["objective"]
                m.update({f"reporting/{who}_{k}": v for k, v in rep["metrics"].items()})
        parent.log_metrics(m)
        parent.set_tags({"avsal.tune.best_trial": best.number if best else "", "avsal.tune.dvc_command": summary.get("dvc_command", "")})
    summary["outputs"] = str(out_dir)
    return summary


def _span(trials: list[optuna.trial.FrozenTrial]) -> float | None:
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    if not starts or not ends:
        return None
    return round((max(ends) - min(starts)).total_seconds(), 1)
