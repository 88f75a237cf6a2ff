"""Atomic file writes: a temp file in the target's folder, fsync, then rename into place.

Why: a stage killed mid-write must never leave a half-written output that a rerun (or DVC)
would take for a finished one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "write_result_json",
    "TIMING_KEYS",
]

#: keys of wall-clock timings: shown and logged to MLflow, never written into a result file
TIMING_KEYS = frozenset({"seconds", "epoch_time_s", "frames_per_s"})


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are shared like any file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n")


def _without_timings(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, (list, tuple)):
        return [_without_timings(v) for v in obj]
    return obj


def write_result_json(path: str | Path, obj: Any) -> Path:
    """A stage's result file (committed, or hashed by DVC): the same params give the same bytes,
    so wall-clock timings (:data:`TIMING_KEYS`, at any depth) are left out."""
    return atomic_write_json(path, _without_timings(obj))
