"""Campaigns: a coordinator spawns worker processes that share one Optuna study.

``run_campaign`` (``avsal tune``) checks the splits, creates or resumes the study (the first
trial of a new study is the current params: the baseline), opens the study's MLflow parent run,
decodes the data once, starts ``workers`` processes (``avsal tune --worker``), follows them, and
writes the study's report (:mod:`avsal.tuning.report`).

``run_worker`` loops ``study.optimize(n_trials=1)`` until the study holds ``trials`` finished
(complete or pruned) trials (:class:`~avsal.tuning.objective.Objective`).

Resilience: Ctrl-C stops every process; the interrupted trials are FAIL and re-queued with the
same params, so rerunning the same command resumes the study (and the interrupted training
resumes from its last epoch checkpoint).  A SIGKILLed worker's trial stops heart-beating: after
``tune.grace_period`` seconds a live worker (or the rerun) marks it FAIL and re-queues it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from avsal.config import Config, ConfigError
from avsal.tuning.objective import Objective
from avsal.tuning.report import best_trial, finalize
from avsal.tuning.runs import Tracking
from avsal.tuning.splits import check_splits
from avsal.tuning.storage import redact
from avsal.tuning.study import (
    STORAGE_ENV,
    check_name,
    check_study,
    counts,
    create_or_load,
    jsonable,
    limit_threads,
    make_pruner,
    make_sampler,
    open_trial_storage,
    say,
    storage_url,
)
from avsal.tuning.trial import TrialPipeline, TunePaths
from avsal.utils.numerics import PARALLEL_ENV, thread_share

__all__ = ["run_worker", "run_campaign"]


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


def run_worker(
    cfg: Config,
    *,
    study: str,
    trials: int,
    storage: str | None = None,
    index: int = 0,
    threads: int = 1,
    track: bool = True,
) -> dict[str, Any]:
    """Run trials of ``study`` until it holds ``trials`` finished ones (shared by all workers)."""
    check_name(study)
    limit_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage_url(cfg, storage or os.environ.get(STORAGE_ENV))
    tracking = Tracking(cfg, track)
    st = open_trial_storage(cfg, url, tracking)
    s = optuna.load_study(
        study_name=study, storage=st, sampler=make_sampler(cfg, index), pruner=make_pruner(cfg)
    )
    check_study(cfg, s, st)
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
            n = counts(s)
            done = n[TrialState.COMPLETE] + n[TrialState.PRUNED]
            if done >= trials:
                break
            if (
                done + n[TrialState.RUNNING] >= trials
            ):  # the rest is running elsewhere: stay in case one dies
                lock.release()
                time.sleep(min(5.0, cfg.tune.heartbeat_interval))
                continue
            objective.current = None
            s.optimize(objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
        except KeyboardInterrupt:
            say(f"worker {index} interrupted: its trial is FAIL and re-queued; rerun to resume")
            raise SystemExit(130) from None
        finally:
            lock.release()
        ran += 1
        mine = [t for t in s.get_trials(deepcopy=False) if t.number == objective.current]
        if not mine or mine[-1].state == TrialState.FAIL:
            failures_in_a_row += 1
            if failures_in_a_row >= 3:
                raise RuntimeError(
                    f"worker {index}: 3 trials in a row failed (see the log above); stopping"
                )
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
    return atomic_write_text(path, yaml.safe_dump(jsonable(raw), sort_keys=False))


def _spawn(
    cfg_file: Path,
    *,
    study: str,
    trials: int,
    url: str,
    index: int,
    threads: int,
    parallel: int,
    track: bool,
    logfile: Path,
) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "avsal.cli",
        "--params",
        str(cfg_file),
        "tune",
        "--study",
        study,
        "--trials",
        str(trials),
        "--worker",
        "--worker-index",
        str(index),
        "--threads",
        str(threads),
    ]
    if not track:
        cmd.append("--no-mlflow")
    env = {
        **os.environ,
        STORAGE_ENV: url,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        PARALLEL_ENV: str(parallel),
        "PYTHONUNBUFFERED": "1",
    }
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


def run_campaign(
    cfg: Config,
    *,
    study: str,
    trials: int,
    workers: int = 1,
    storage: str | None = None,
    track: bool = True,
    report: bool = True,
) -> dict[str, Any]:
    """``avsal tune``: run (or resume) study ``study`` to ``trials`` finished trials with
    ``workers`` processes, then write its report.  See the module docstring."""
    if trials < 0 or workers < 1:
        raise ValueError(f"--trials must be >= 0 and --workers >= 1 (got {trials}, {workers})")
    check_name(study)
    if not cfg.tune.space:
        raise ConfigError(f"{cfg.params_file}: tune.space is empty: nothing to tune")
    sizes = check_splits(cfg)
    t0 = time.time()
    paths = TunePaths(cfg, study)
    url = storage_url(cfg, storage)
    tracking = Tracking(cfg, track)
    st = open_trial_storage(cfg, url, tracking)
    s, created = create_or_load(cfg, st, study)
    say(
        f"study '{study}' {'created' if created else 'resumed'} in {redact(url)}; tuning split {sizes}"
    )
    params = {
        "tune": jsonable(dataclasses.asdict(cfg.tune)),
        "storage": redact(url),
        "budget_trials": trials,
    }
    tags = {"avsal.tune.study": study, "avsal.tune.parent": True}
    with tracking.parent(s, st, created=created, params=params, tags=tags) as parent:
        pipeline = TrialPipeline(cfg)
        e = pipeline.entries(cfg, targets=("prepare",))[
            "prepare"
        ]  # decode once, before the workers need it
        say(
            f"prepared data: {'cache hit' if e.hit else f'decoded in {e.seconds:.1f} s'} ({e.root})"
        )
        n = counts(s)
        if n[TrialState.COMPLETE] + n[TrialState.PRUNED] < trials:
            _run_workers(
                cfg,
                s,
                study=study,
                trials=trials,
                workers=workers,
                url=url,
                track=track,
                paths=paths,
            )
        result = finalize(
            cfg,
            s,
            parent=parent,
            wall_seconds=time.time() - t0,
            budget=trials,
            url=url,
            report=report,
        )
    return result


def _run_workers(
    cfg: Config,
    s: optuna.Study,
    *,
    study: str,
    trials: int,
    workers: int,
    url: str,
    track: bool,
    paths: TunePaths,
) -> None:
    cfg_file = _frozen_config(cfg, paths.study_dir / "config.yaml")
    threads = thread_share(workers)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = [paths.study_dir / "logs" / f"{stamp}-worker{k}.log" for k in range(workers)]
    procs = [
        _spawn(
            cfg_file,
            study=study,
            trials=trials,
            url=url,
            index=k,
            threads=threads,
            parallel=workers,
            track=track,
            logfile=logs[k],
        )
        for k in range(workers)
    ]
    say(f"{workers} worker(s), {threads} thread(s) each; logs: {paths.study_dir / 'logs'}")
    seen: set[int] = {t.number for t in s.get_trials(deepcopy=False) if t.state.is_finished()}
    try:
        while True:
            alive = [p for p in procs if p.poll() is None]
            for t in s.get_trials(deepcopy=False):
                if t.state.is_finished() and t.number not in seen:
                    seen.add(t.number)
                    n = counts(s)
                    best = best_trial(s)
                    value = f"{t.value:.4f}" if t.value is not None else "-"
                    say(
                        f"#{t.number} {t.state.name} {value}  [{n[TrialState.COMPLETE] + n[TrialState.PRUNED]}/{trials} finished"
                        + (f"; best {best.value:.4f} (#{best.number})" if best else "")
                        + "]"
                    )
            if not alive:
                break
            time.sleep(2.0)
    except KeyboardInterrupt:
        say(
            "interrupted: stopping the workers (their trials are re-queued); rerun the same command to resume"
        )
        _stop(procs)
        raise
    bad = [(k, p.returncode) for k, p in enumerate(procs) if p.returncode != 0]
    for k, rc in bad:
        say(f"worker {k} exited with {rc}; the end of {logs[k]}:\n{_tail(logs[k])}")


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
