"""A content-addressed cache of stage outputs shared by every trial (and every study).

One entry per ``dvc.yaml`` stage (``<root>/<stage>/<key>/``, holding the stage's declared outs
below ``artifacts/`` and ``reports/``), where ``key`` hashes what DVC compares for that stage:
its declared params and the content of its deps (:mod:`avsal.tuning.trial`).  So a trial that
only moves a SCAM threshold finds the classification nets of an earlier trial.

An entry is built in ``<key>.partial/`` under an exclusive ``flock`` on ``<key>.lock`` and
renamed into place when complete, so readers never see half an entry and two workers never
build the same one twice.  The lock dies with its process; a worker killed mid-build leaves the
partial folder, and the next builder resumes there (the training engine's checkpoints are inside).

Stage functions read and write under one ``paths.artifacts`` / ``paths.reports`` pair: a build
(and a trial) gets roots whose upstream outs are symlinks into the entries they come from
(:func:`overlay`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - POSIX only
    fcntl = None  # type: ignore[assignment]

__all__ = ["Cache", "Entry", "overlay", "locked"]

ENTRY_FILE = "entry.json"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if needed); released on exit or death."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Entry:
    """A complete cache entry: ``root/<out>`` for each of the stage's ``outs``."""

    stage: str
    key: str
    root: Path
    outs: tuple[str, ...]  # "artifacts/<rel>" or "reports/<rel>"
    hit: bool  # found complete (True) or built by this call (False)
    seconds: float  # time spent building (0 for a hit)

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def info(self) -> dict[str, Any]:
        return json.loads((self.root / ENTRY_FILE).read_text())


def overlay(root: Path, entries: list[Entry]) -> None:
    """Make ``root/{artifacts,reports}`` whose entries' outs are symlinks into the entries."""
    root.mkdir(parents=True, exist_ok=True)
    for e in entries:
        for rel in e.outs:
            src = e.root / rel
            dst = root / rel
            if not src.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.is_symlink() or dst.is_file():
                dst.unlink()
            elif dst.is_dir():
                shutil.rmtree(dst)
            os.symlink(src, dst, target_is_directory=src.is_dir())


def _drop_links(root: Path) -> None:
    """Remove the symlinks :func:`overlay` made (and folders left empty) before publishing."""
    for folder, dirs, files in os.walk(root, topdown=False):  # never follows the links
        for name in dirs + files:
            p = Path(folder) / name
            if p.is_symlink():
                p.unlink()
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()


class Cache:
    """The entries under ``root`` (``<artifacts>/tune/cache``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage.replace("@", "/") / key

    def get(self, stage: str, key: str) -> Entry | None:
        final = self.path(stage, key)
        if (final / ENTRY_FILE).is_file():
            outs = tuple(json.loads((final / ENTRY_FILE).read_text())["outs"])
            return Entry(stage, key, final, outs, True, 0.0)
        return None

    def ensure(
        self,
        stage: str,
        key: str,
        build: Callable[[Path, Path], Mapping[str, Any] | None],
        *,
        outs: tuple[str, ...],
        upstream: list[Entry] = (),  # type: ignore[assignment]
        inputs: Mapping[str, Any] | None = None,
    ) -> Entry:
        """The entry ``stage/key``, built by ``build(artifacts_dir, reports_dir)`` if missing.

        ``build`` runs in ``<key>.partial/`` whose roots overlay ``upstream``; it must write every
        path of ``outs`` there.  Whatever it returns is kept in ``entry.json``.
        """
        hit = self.get(stage, key)
        if hit is not None:
            return hit
        final = self.path(stage, key)
        with locked(final.with_name(f"{key}.lock")):
            hit = self.get(stage, key)  # built by another worker while we waited
            if hit is not None:
                return hit
            work = final.with_name(f"{key}.partial")
            art, rep = work / "artifacts", work / "reports"
            rep.mkdir(parents=True, exist_ok=True)
            overlay(work, list(upstream))
            t0 = time.perf_counter()
            result = build(art, rep)
            seconds = time.perf_counter() - t0
            missing = [
                rel for rel in outs if not (work / rel).exists() or (work / rel).is_symlink()
            ]
            if missing:
                raise RuntimeError(f"cache build {stage}/{key} did not write {missing}")
            _drop_links(work)
            shutil.rmtree(art / "checkpoints", ignore_errors=True)
            info = {
                "stage": stage,
                "key": key,
                "outs": list(outs),
                "inputs": inputs or {},
                "result": dict(result or {}),
                "seconds": round(seconds, 2),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "pid": os.getpid(),
                "upstream": {e.stage: e.key for e in upstream},
            }
            (work / ENTRY_FILE).write_text(
                json.dumps(info, indent=1, sort_keys=True, default=str) + "\n"
            )
            os.replace(work, final)
            return Entry(stage, key, final, tuple(outs), False, seconds)
