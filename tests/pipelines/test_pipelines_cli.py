"""Stage CLIs: a known failure is one line naming the file or key, exit 1; -v adds the traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def _params(tmp_path: Path, repo_root: Path) -> Path:
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    raw["paths"].update(artifacts=str(tmp_path / "artifacts"), reports=str(tmp_path / "reports"))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _stage(
    repo_root: Path, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(repo_root / "pipelines" / args[0]), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo_root / "src"), **(env or {})},
        timeout=300,
    )


@pytest.mark.parametrize(
    "args, names",
    [
        (("-S", "bogus.key=1"), "bogus"),
        (("-S", "runtime.cpu_numerics=fast"), "runtime.cpu_numerics"),
        (("-S", "novalue"), "key=value"),
    ],
)
def test_config_errors_are_one_line(repo_root, tmp_path, args, names):
    res = _stage(
        repo_root,
        tmp_path,
        "train_cls.py",
        "--params",
        str(_params(tmp_path, repo_root)),
        *args,
        "--stage",
        "coarse",
        "--net",
        "s",
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "ConfigError" in lines[0] and names in lines[0], res.stderr


def test_missing_input_names_the_file_and_the_stage_to_run(repo_root, tmp_path):
    params = _params(tmp_path, repo_root)
    res = _stage(
        repo_root,
        tmp_path,
        "train_cls.py",
        "--params",
        str(params),
        "--stage",
        "coarse",
        "--net",
        "s",
    )
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "index.json" in lines[0] and "prepare" in lines[0], res.stderr
    verbose = _stage(
        repo_root,
        tmp_path,
        "train_cls.py",
        "--params",
        str(params),
        "-v",
        "--stage",
        "coarse",
        "--net",
        "s",
    )
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_help_explains_the_stage(repo_root, tmp_path):
    res = _stage(repo_root, tmp_path, "scam.py", "--help")
    assert (
        res.returncode == 0
        and "selective fusion" in res.stdout
        and "--stage" in res.stdout
        and "-v" in res.stdout
    )
