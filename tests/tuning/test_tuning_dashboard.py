"""`avsal dashboard` (make dashboard): a real optuna-dashboard process over a sqlite and a journal
storage answers on 127.0.0.1 with the campaign's study and its trials."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _study(storage) -> None:
    study = optuna.create_study(study_name="campaign", storage=storage, direction="maximize")
    study.optimize(lambda t: t.suggest_float("crop_k", 1.0, 3.0), n_trials=3)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_dashboard_serves_the_campaign(kind, tmp_path, repo_root):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'optuna.db'}"
        _study(url)
    else:
        url = f"journal:{tmp_path / 'journal.log'}"
        _study(JournalStorage(JournalFileBackend(str(tmp_path / "journal.log"))))
    port = _free_port()
    cmd = [sys.executable, "-m", "avsal.cli", "--params", str(repo_root / "params.yaml"),
           "dashboard", "--storage", url, "--study", "campaign", "--port", str(port)]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        body = None
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=2) as r:
                    body = json.loads(r.read())
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
        assert body is not None, proc.stdout.read() if proc.poll() is not None else "no answer"
        studies = body["study_summaries"]
        assert [s["study_name"] for s in studies] == ["campaign"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/dashboard/studies/" in out


def test_missing_storage_is_one_line(tmp_path, repo_root):
    cmd = [sys.executable, "-m", "avsal.cli", "--params", str(repo_root / "params.yaml"),
           "dashboard", "--storage", f"sqlite:///{tmp_path / 'none.db'}"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "no campaign storage yet" in res.stderr
