"""Provenance without DVC: pipeline ids across real processes, git commit/dirty, repo/store root."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tracking_toys import child_env

from avsal.tracking import find_repo_root, git_info, pipeline_id, store_root, tracking_uri
from avsal.tracking import provenance as prov

PRINT_ID = "from avsal.tracking import pipeline_id; print(pipeline_id())"

# A parent python whose command line reads "... dvc repro" (as `dvc repro` does for its stage
# commands), spawning two sibling stage processes that each ask for the pipeline id.
FAKE_DVC_PARENT = textwrap.dedent(
    """
    import subprocess, sys, json
    code = "from avsal.tracking import pipeline_id; print(pipeline_id()); print(pipeline_id())"
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]
    print(json.dumps(outs))
    """
)


def _run(args: list[str], **env: str) -> str:
    out = subprocess.run(args, capture_output=True, text=True, env=child_env(**env), timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_env_var_wins_in_every_subprocess():
    ids = {
        _run([sys.executable, "-c", PRINT_ID], AVSAL_PIPELINE_ID="study-42").strip() for _ in "ab"
    }
    assert ids == {"study-42"}


def test_siblings_under_one_dvc_process_share_the_id():
    first = json.loads(_run([sys.executable, "-c", FAKE_DVC_PARENT, "dvc", "repro"]))
    ids = {i for pair in first for i in pair}
    assert len(ids) == 1, first  # two grandchildren, two calls each: one id
    (the_id,) = ids
    assert len(the_id) == 16 and int(the_id, 16) >= 0
    # another `dvc repro` (another process) is another pipeline
    second = json.loads(_run([sys.executable, "-c", FAKE_DVC_PARENT, "dvc", "exp", "run"]))
    assert {i for pair in second for i in pair} != ids


def test_without_dvc_ancestor_each_process_gets_a_fresh_uuid():
    a, b = (_run([sys.executable, "-c", PRINT_ID]).strip() for _ in "ab")
    assert a != b and len(a) == 32 and int(a, 16) >= 0


def test_id_cached_and_exported_to_children(clean_env, monkeypatch):
    monkeypatch.setattr(prov, "_pipeline_id", None)
    pid = pipeline_id()
    assert pipeline_id() == pid
    # a child of this process (a DDP rank, an Optuna worker) inherits the exported id
    out = subprocess.run(
        [sys.executable, "-c", PRINT_ID], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == pid


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["/venv/bin/python", "/venv/bin/dvc", "repro"], True),
        (["python", "-m", "dvc", "exp", "run", "--queue"], True),
        (["dvc", "status"], False),
        (["python", "-m", "pytest", "tests/dvc_repro"], False),
        ([], False),
    ],
)
def test_dvc_cmdline_detection(cmdline, expected):
    assert prov._is_dvc_pipeline_cmd(cmdline) is expected


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_git_commit_and_dirty_flag(tmp_path):
    repo = tmp_path / "g"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "code.py").write_text("x = 1\n")
    (repo / "dvc.lock").write_text("schema: '2.0'\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "init")
    head = _git(repo, "rev-parse", "HEAD")

    assert git_info(repo) == {"avsal.git.commit": head, "avsal.git.dirty": "false"}
    (repo / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")  # dvc repro rewrites it
    assert git_info(repo)["avsal.git.dirty"] == "false"
    (repo / "code.py").write_text("x = 2\n")
    tags = git_info(repo)
    assert tags["avsal.git.dirty"] == "true" and "code.py" in tags["avsal.git.dirty_files"]
    assert git_info(tmp_path / "nogit") == {
        "avsal.git.commit": "unknown",
        "avsal.git.dirty": "unknown",
    }


def test_repo_root_and_store_root(tmp_path, clean_env, monkeypatch):
    repo = tmp_path / "repo"
    deep = repo / "src" / "pkg"
    deep.mkdir(parents=True)
    (repo / "dvc.yaml").write_text("stages: {}\n")
    assert find_repo_root(deep) == repo.resolve()
    monkeypatch.chdir(deep)
    assert find_repo_root() == repo.resolve()
    assert tracking_uri(repo) == f"sqlite:///{repo.resolve()}/mlflow/mlflow.db"
    # a `dvc exp run --queue` workspace is a copy with its own dvc.yaml; DVC sets DVC_ROOT to the
    # original workspace, so the store stays there
    temp_ws = repo / ".dvc" / "tmp" / "exps" / "tmpabc"
    temp_ws.mkdir(parents=True)
    (temp_ws / "dvc.yaml").write_text("stages: {}\n")
    assert find_repo_root(temp_ws) == temp_ws.resolve()
    monkeypatch.setenv("DVC_ROOT", str(repo))
    assert store_root(temp_ws) == repo.resolve()
    assert tracking_uri(temp_ws) == f"sqlite:///{repo.resolve()}/mlflow/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(temp_ws) == "http://127.0.0.1:5000"
    with pytest.raises(FileNotFoundError):
        find_repo_root(Path("/"))
