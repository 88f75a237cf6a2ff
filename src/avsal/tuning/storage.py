"""Where a study lives: sqlite (default), a journal file, or PostgreSQL for many machines.

* ``sqlite:///<artifacts>/tune/optuna.db`` (default, ``tune.storage: null``): Optuna's RDB
  storage, one file, safe for the worker processes of one machine.
* ``journal:<file>``: Optuna's journal (append-only log) file; also one machine, or a shared
  file system with working ``symlink`` locks.
* ``postgresql://user:password@host:5432/db`` (needs ``psycopg2-binary``: ``pip install
  avsal[postgres]``): workers on many machines share one study; every machine runs
  ``avsal tune --study NAME --trials N --workers K --storage postgresql://...`` and they share
  the budget of N trials.  Any SQLAlchemy URL Optuna accepts (``mysql+pymysql://...``) works too.

Every storage gets a **heartbeat**: a running trial writes one every ``tune.heartbeat_interval``
seconds; a trial silent for ``tune.grace_period`` seconds (its worker was SIGKILLed, its machine
lost) is marked FAIL by the next worker that asks for a trial and re-queued with the same params
(at most ``tune.max_retry`` times).  Optuna's RDB storage has heartbeats built in; Optuna 5's
journal storage has none, so :class:`HeartbeatJournalStorage` adds them as a trial system attr.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

__all__ = ["open_storage", "redact", "resolve_url", "HeartbeatJournalStorage", "HEARTBEAT_ATTR"]

HEARTBEAT_ATTR = "avsal:heartbeat"
StaleCallback = Callable[["optuna.study.Study", FrozenTrial], None]


def redact(url: str) -> str:
    """``url`` without its password (safe to print and to log to MLflow)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def shown_url(url: str) -> str:
    """``url`` as a committed summary shows it: no password, and a file under the working
    directory relative to it (no absolute path of the machine that ran the campaign)."""
    url = redact(url)
    cwd = str(Path.cwd().resolve())
    for prefix in ("sqlite:///", "journal:"):
        if url.startswith(prefix + cwd + "/"):
            return prefix + url[len(prefix + cwd + "/") :]
    return url


def resolve_url(url: str) -> str:
    """Make a ``journal:`` or ``sqlite:///`` relative file path absolute (workers may chdir)."""
    if url.startswith("journal:"):
        path = url[len("journal:") :]
        path = path[2:] if path.startswith("//") else path
        return "journal:" + str(Path(path).expanduser().resolve())
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rest = url[len("sqlite:///") :]
        if rest and rest != ":memory:":
            return "sqlite:///" + str(Path(rest).resolve())
    return url


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """Optuna's journal storage plus the heartbeat protocol of its RDB storage."""

    def __init__(
        self,
        backend: Any,
        *,
        heartbeat_interval: int,
        grace_period: int,
        stale_callback: StaleCallback | None,
    ) -> None:
        super().__init__(backend)
        self._hb_interval = heartbeat_interval
        self._hb_grace = grace_period
        self._hb_callback = stale_callback

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
        except Exception:  # noqa: BLE001 - finished (or failed by another worker) meanwhile
            pass

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for t in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            beat = t.system_attrs.get(HEARTBEAT_ATTR)
            if beat is None and t.datetime_start is not None:
                beat = t.datetime_start.timestamp()  # naive local time, as the journal records it
            if beat is not None and now - float(beat) > self._hb_grace:
                stale.append(t._trial_id)
        return stale

    def get_heartbeat_interval(self) -> int | None:
        return self._hb_interval

    def get_heartbeat_stale_trial_callback(self) -> StaleCallback | None:
        return self._hb_callback


def open_storage(
    url: str,
    *,
    heartbeat_interval: int,
    grace_period: int,
    stale_callback: StaleCallback | None = None,
    attempts: int = 5,
) -> BaseStorage:
    """An Optuna storage for ``url`` with heartbeats; retried (table creation may race)."""
    url = resolve_url(url)
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                if url.startswith("journal:"):
                    path = Path(url[len("journal:") :])
                    path.parent.mkdir(parents=True, exist_ok=True)
                    return HeartbeatJournalStorage(
                        JournalFileBackend(str(path)),
                        heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period,
                        stale_callback=stale_callback,
                    )
                engine_kwargs: dict[str, Any] = {}
                if url.startswith("sqlite:"):
                    db = url[len("sqlite:///") :]
                    if db and db != ":memory:":
                        Path(db).parent.mkdir(parents=True, exist_ok=True)
                    engine_kwargs = {"connect_args": {"timeout": 60}}
                else:
                    engine_kwargs = {"pool_pre_ping": True}
                return RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=stale_callback,
                )
        except ImportError as exc:
            raise RuntimeError(
                f"storage {redact(url)}: {exc} (PostgreSQL needs: pip install 'avsal[postgres]')"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - first-time table creation racing another process
            last = exc
            time.sleep(0.5 * (attempt + 1) + 0.1 * (os.getpid() % 7))
    raise RuntimeError(f"cannot open Optuna storage {redact(url)}: {last}") from last
