"""A content-addressed cache of stage outputs shared by every trial (and every study).

A trial's pipeline is cut into groups; each group's outputs live in one cache entry,
``<root>/<group>/<key>/artifacts/<the group's artifact paths>``, where ``key`` hashes everything
the group's outputs depend on: its own params plus the key (or the *content*) of what it reads.
So a trial that only moves a SCAM threshold finds the coarse nets of an earlier trial, and a
trial whose new threshold gives the same crop boxes (the fine stage's only input from SCAM)
even finds the fine nets.

An entry is built in ``<key>.partial/`` under an exclusive ``flock`` on ``<key>.lock`` and
renamed into place when complete, so readers never see half an entry and two workers never
build the same one twice.  The lock dies with its process; a worker killed mid-build leaves the
partial folder, and the next builder resumes there (the training engine's checkpoints are inside).

Stage functions read and write under one ``paths.artifacts`` root: a build (and a trial) gets a
root whose upstream paths are symlinks into the entries it depends on (:func:`overlay`).
"""

from __future__ import annotations

import contextlib
import hashlib
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

__all__ = ["GROUPS", "Cache", "Entry", "digest", "file_digest", "overlay", "locked"]

#: group -> the artifact paths (relative to ``paths.artifacts``) its entry holds
GROUPS: dict[str, tuple[str, ...]] = {
    "prepared": ("prepared",),
    "switch": ("models/audio_switch", "models/tagger"),
    "coarse": ("models/coarse", "cams/coarse"),
    "scam_coarse": ("pseudo/coarse",),
    "fine": ("models/fine", "cams/fine"),
    "scam_fine": ("pseudo/fine",),
    "sta": ("models/sta",),
}

ENTRY_FILE = "entry.json"


def _plain(obj: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return obj.as_posix()
    return obj


def digest(obj: Any) -> str:
    """Stable 20-hex-digit hash of JSON-able settings (dataclasses and tuples welcome)."""
    text = json.dumps(_plain(obj), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def file_digest(*paths: Path) -> str:
    """sha256 of files' bytes (the content an entry's key is addressed by)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:20]


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
    """A complete cache entry: ``root/artifacts`` holds the group's outputs."""

    group: str
    key: str
    root: Path
    hit: bool  # found complete (True) or built by this call (False)
    seconds: float  # time spent building (0 for a hit)

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def info(self) -> dict[str, Any]:
        return json.loads((self.root / ENTRY_FILE).read_text())


def overlay(root: Path, entries: list[Entry]) -> None:
    """Make ``root`` an artifacts folder whose group paths are symlinks into ``entries``."""
    root.mkdir(parents=True, exist_ok=True)
    for e in entries:
        for rel in GROUPS[e.group]:
            src = e.artifacts / rel
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

    def path(self, group: str, key: str) -> Path:
        if group not in GROUPS:
            raise KeyError(f"unknown cache group {group!r}; known: {list(GROUPS)}")
        return self.root / group / key

    def get(self, group: str, key: str) -> Entry | None:
        final = self.path(group, key)
        if (final / ENTRY_FILE).is_file():
            return Entry(group, key, final, True, 0.0)
        return None

    def ensure(
        self,
        group: str,
        key: str,
        build: Callable[[Path, Path], Mapping[str, Any] | None],
        *,
        upstream: list[Entry] = (),  # type: ignore[assignment]
        inputs: Mapping[str, Any] | None = None,
    ) -> Entry:
        """The entry ``group/key``, built by ``build(artifacts_dir, reports_dir)`` if missing.

        ``build`` runs in ``<key>.partial/`` whose ``artifacts`` overlays ``upstream``; it must
        write the group's paths there.  Whatever it returns is kept in ``entry.json``.
        """
        hit = self.get(group, key)
        if hit is not None:
            return hit
        final = self.path(group, key)
        with locked(final.with_name(f"{key}.lock")):
            hit = self.get(group, key)  # built by another worker while we waited
            if hit is not None:
                return hit
            work = final.with_name(f"{key}.partial")
            art, rep = work / "artifacts", work / "reports"
            rep.mkdir(parents=True, exist_ok=True)
            overlay(art, list(upstream))
            t0 = time.perf_counter()
            result = build(art, rep)
            seconds = time.perf_counter() - t0
            missing = [rel for rel in GROUPS[group] if not (art / rel).exists() or (art / rel).is_symlink()]
            if missing:
                raise RuntimeError(f"cache build {group}/{key} did not write {missing}")
            _drop_links(art)
            shutil.rmtree(art / "checkpoints", ignore_errors=True)
            info = {"group": group, "key": key, "inputs": _plain(inputs or {}), "result": _plain(dict(result or {})),
                    "seconds": round(seconds, 2), "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid(),
                    "upstream": {e.group: e.key for e in upstream}}
            (work / ENTRY_FILE).write_text(json.dumps(info, indent=1, sort_keys=True, default=str) + "\n")
            os.replace(work, final)
            return Entry(group, key, final, False, seconds)
