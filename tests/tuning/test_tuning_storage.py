"""Storages shared by worker processes: the journal file (with our heartbeat) and a real
PostgreSQL server started privately for the test (skipped where it cannot be started)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


@pytest.mark.filterwarnings("ignore")  # ask() without optimize(), experimental heartbeat API
def test_journal_heartbeat_fails_and_requeues_a_silent_trial(tmp_path):
    import optuna

    from avsal.tuning.storage import HeartbeatJournalStorage, open_storage

    seen = []
    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)

    def on_stale(study, trial):
        seen.append(trial.number)
        retry(study, trial)

    url = f"journal:{tmp_path / 'study.log'}"
    storage = open_storage(url, heartbeat_interval=1, grace_period=2, stale_callback=on_stale)
    assert isinstance(storage, HeartbeatJournalStorage)
    study = optuna.create_study(study_name="hb", storage=storage)
    dead = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # its worker never beats
    alive = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    time.sleep(2.5)
    storage.record_heartbeat(alive._trial_id)
    optuna.storages.fail_stale_trials(study)
    # another process reading the same file sees the same states
    again = optuna.load_study(
        study_name="hb", storage=open_storage(url, heartbeat_interval=1, grace_period=2)
    )
    states = {t.number: t.state.name for t in again.trials}
    assert (
        seen == [dead.number]
        and states[dead.number] == "FAIL"
        and states[alive.number] == "RUNNING"
    )
    waiting = [t for t in again.trials if t.state.name == "WAITING"]
    assert (
        len(waiting) == 1
        and waiting[0].params == dead.params
        and waiting[0].system_attrs["failed_trial"] == dead.number
    )


def _two_worker_campaign(cfg, name: str, storage: str, monkeypatch) -> None:
    from avsal.tuning import open_study, run_campaign

    monkeypatch.setenv("AVSAL_TUNE_TEST_SLEEP", "2")  # trials overlap: both workers get some
    run_campaign(cfg, study=name, trials=4, workers=2, storage=storage, report=False)
    study = open_study(cfg, name, storage)
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 4
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2  # two processes, one study


@pytest.mark.slow
def test_journal_file_study_shared_by_worker_processes(in_world, tmp_path, monkeypatch):
    log = tmp_path / "journal" / "optuna.log"
    _two_worker_campaign(in_world, "journal", f"journal:{log}", monkeypatch)
    assert log.is_file() and log.stat().st_size > 0


# ------------------------------------------------------------------------------ PostgreSQL


def _pg_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if found:
        return found[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A private PostgreSQL server (initdb in a temp dir, pg_ctl on a free port); skip if impossible."""
    psycopg2 = pytest.importorskip("psycopg2")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian: apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="avsal-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the 'postgres' user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base)
            pytest.skip("running as root and there is no 'postgres' user to run a server")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()

    def run(*cmd: str) -> None:
        res = subprocess.run([*as_user, *cmd], capture_output=True, text=True, timeout=120)
        if res.returncode:
            raise RuntimeError(f"{' '.join(cmd)}: {res.stdout[-500:]} {res.stderr[-500:]}")

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "avsal", "--auth=trust", "-E", "UTF8")
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1",
            "start",
        )
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="avsal", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE optuna")
        conn.close()
    except (RuntimeError, OSError, subprocess.TimeoutExpired, psycopg2.Error) as exc:
        with contextlib.suppress(Exception):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot start a private PostgreSQL server: {exc}")
    yield f"postgresql+psycopg2://avsal@127.0.0.1:{port}/optuna"
    with contextlib.suppress(Exception):
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_postgresql_study_shared_by_worker_processes(in_world, postgres_url, monkeypatch):
    _two_worker_campaign(in_world, "postgres", postgres_url, monkeypatch)
