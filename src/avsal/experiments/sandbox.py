"""A scratch copy of this project where the whole pipeline runs under other params.

Why: the paper profile on the scale world, the memory measurements at N and 4N clips and the
integration test each need ``dvc repro`` from ``validate_raw`` to ``report`` with params that
are not this checkout's (another world, other nets), without touching this checkout's data,
artifacts, dvc.lock or MLflow store.  A sandbox is a fresh git + DVC repo holding a copy of the
code, dvc.yaml and references, a params.yaml merged from params.yaml + profiles + overrides, and
the synthetic world those params describe; its stages run the COPY's code (``PYTHONPATH``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["COPY", "Sandbox", "SandboxError", "create_sandbox", "reopen_sandbox"]

#: what a sandbox copies from the project (everything a stage reads that is not data/)
COPY = (
    "src",
    "pipelines",
    "profiles",
    "references",
    "dvc.yaml",
    "pyproject.toml",
    ".dvcignore",
    "reports/replicate_videos.csv",  # the claims stage's dep: replicate seeds (none match here)
)
#: env vars of the caller's own runs that must not leak into the sandbox's
_FOREIGN_ENV = ("MLFLOW_TRACKING_URI", "DVC_", "AVSAL_PIPELINE_ID", "AVSAL_RECORD_")


class SandboxError(RuntimeError):
    """A command in the sandbox failed; the message holds its command and output tail."""


@dataclass(frozen=True)
class Sandbox:
    root: Path  # the scratch project
    env: dict[str, str]  # the environment its commands run in

    @property
    def resources_dir(self) -> Path:
        return self.root.parent / f"{self.root.name}.resources"

    def run(self, cmd: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess:
        """``cmd`` in the sandbox; SandboxError with the output's tail if it fails."""
        res = subprocess.run(
            cmd, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if res.returncode != 0:
            raise SandboxError(
                f"{self.root}: {' '.join(cmd)} exited with {res.returncode}\n"
                f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
            )
        return res

    def repro(self, *targets: str, timeout: float | None = None) -> dict[str, Any]:
        """``dvc repro [targets]``; returns its wall time and each stage's recorded resources."""
        t0 = time.perf_counter()
        out = self.run(["dvc", "repro", *targets], timeout=timeout).stdout
        ran = [ln.split("'")[1] for ln in out.splitlines() if ln.startswith("Running stage")]
        return {"seconds": round(time.perf_counter() - t0, 1), "ran": ran, "stages": self.stages()}

    def stages(self) -> dict[str, dict[str, Any]]:
        """Per stage: wall seconds and peak memory (utils.resources), as its process wrote them."""
        records = (json.loads(p.read_text()) for p in sorted(self.resources_dir.glob("*.json")))
        return {r.pop("stage"): r for r in records}


def create_sandbox(
    project: str | Path,
    dest: str | Path,
    *,
    profiles: tuple[str | Path, ...] = (),
    overrides: dict[str, Any] | None = None,
    synth_workers: int | None = None,
    record_modules: Path | None = None,
) -> tuple[Sandbox, dict[str, Any]]:
    """A sandbox at ``dest`` (replaced if it exists) with params.yaml = ``project``'s params.yaml
    + ``profiles`` + ``overrides``, git and DVC initialised and the world generated and added.

    Returns the sandbox and the world's summary (clips, frames, seconds, workers).
    """
    from avsal.config import load_profile

    project, root = Path(project).resolve(), Path(dest).resolve()
    merged = load_profile(
        project / "params.yaml",
        *(project / p if not Path(p).is_absolute() else Path(p) for p in profiles),
        overrides=overrides,
    )
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    _copy_code(project, root)
    (root / "params.yaml").write_text(yaml.safe_dump(merged, sort_keys=False))
    sandbox = _open(root, record_modules)
    shutil.rmtree(sandbox.resources_dir, ignore_errors=True)
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "sandbox@avsal.invalid"],
        ["git", "config", "user.name", "avsal sandbox"],
        ["dvc", "init", "-q"],
        ["dvc", "config", "core.analytics", "false"],
    ):
        sandbox.run(cmd)
    synth = [sys.executable, "-m", "avsal.cli", "synth", "--out", merged["paths"]["data"]]
    if synth_workers is not None:
        synth += ["--workers", str(synth_workers)]
    world = json.loads(sandbox.run(synth).stdout)
    sandbox.run(["dvc", "add", "-q", merged["paths"]["data"]])
    sandbox.run(["git", "add", "-A"])
    sandbox.run(["git", "commit", "-qm", "sandbox"])
    return sandbox, world


def reopen_sandbox(project: str | Path, dest: str | Path) -> Sandbox:
    """The existing sandbox at ``dest`` with ``project``'s code copied in again; its params,
    world, outputs and resource records are kept.  Why: to re-measure some stages (``repro
    --force --single-item``) after a change to how stages are measured, without regenerating
    the world and rerunning the pipeline."""
    project, root = Path(project).resolve(), Path(dest).resolve()
    if not (root / "params.yaml").is_file() or not (root / ".dvc").is_dir():
        raise SandboxError(f"{root}: not a sandbox (expected params.yaml and .dvc/ there)")
    for name in COPY:
        if (root / name).is_dir():
            shutil.rmtree(root / name)
    _copy_code(project, root)
    return _open(root, None)


def _copy_code(project: Path, root: Path) -> None:
    for name in COPY:
        src = project / name
        if src.is_dir():
            shutil.copytree(
                src, root / name, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
            )
        elif src.exists():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, root / name)


def _open(root: Path, record_modules: Path | None) -> Sandbox:
    """A handle on the sandbox at ``root``: the environment its commands run in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_ENV)}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DVC_NO_ANALYTICS"] = "1"
    env["PYTHONPATH"] = str(root / "src")  # the copy's code, not the checkout's
    sandbox = Sandbox(root=root, env=env)
    env["AVSAL_RECORD_RESOURCES"] = str(sandbox.resources_dir)
    if record_modules is not None:
        env["AVSAL_RECORD_MODULES"] = str(record_modules)
    return sandbox
