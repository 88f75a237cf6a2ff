"""The project's one way to name settings and files by content (shards, checkpoints, trial cache).

Why one helper: every persisted cache decides "is this still valid?" by a hash; with one
definition a setting or a file has one identity everywhere.  Names and bytes only, never mtimes:
a fresh clone or a regenerated, byte-equal input gets the same hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["plain", "digest", "file_digest", "tree_digest"]

_BLOCK = 1 << 20


def plain(obj: Any) -> Any:
    """JSON-able form of settings: dataclasses, mappings, tuples and paths welcome."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return plain(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, Path):
        return obj.as_posix()
    return obj


def digest(obj: Any) -> str:
    """20 hex digits of sha256 over the canonical JSON of ``obj`` (keys sorted)."""
    text = json.dumps(plain(obj), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _update_file(h: Any, path: Path) -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)


def file_digest(*paths: str | Path, missing_ok: bool = False) -> str:
    """20 hex digits over the names and bytes of files, in the order given.

    ``missing_ok``: an absent file counts as ``<missing>`` (an optional input) instead of failing.
    """
    h = hashlib.sha256()
    for p in map(Path, paths):
        h.update(p.name.encode() + b"\0")
        if missing_ok and not p.is_file():
            h.update(b"<missing>\0")
            continue
        _update_file(h, p)
        h.update(b"\0")
    return h.hexdigest()[:20]


def tree_digest(path: str | Path) -> str:
    """20 hex digits over a file, or over every file below a folder (relative names + bytes).

    Symlinks are followed (a trial's workspace links its inputs); hidden files, ``*.tmp``
    folders (unfinished writes) and Python's ``__pycache__`` are skipped.
    """
    root = Path(path)
    if root.is_file():
        return file_digest(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such file or folder to hash")
    h = hashlib.sha256()
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.endswith(".tmp") and not d.startswith(".") and d != "__pycache__"
        )
        for name in sorted(files):
            if name.startswith("."):
                continue
            p = Path(folder) / name
            h.update(p.relative_to(root).as_posix().encode() + b"\0")
            _update_file(h, p)
            h.update(b"\0")
    return h.hexdigest()[:20]
