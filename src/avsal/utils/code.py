"""A fingerprint of the code that produces a persisted cache (prepare shards, checkpoints, trials).

Why: a cache keyed on params and inputs alone serves stale results after a code edit (DVC
reruns the stage, the stage finds its shard "complete" and keeps it). Hashing the source of
the modules that shape the output makes an edit redo exactly the caches it can change.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import cache
from pathlib import Path

__all__ = ["code_fingerprint"]


def _sources(name: str) -> list[tuple[str, Path]]:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"code_fingerprint: no module {name!r}")
    if spec.submodule_search_locations:  # a package: every .py under it
        root = Path(next(iter(spec.submodule_search_locations)))
        return [(f"{name}/{p.relative_to(root).as_posix()}", p) for p in sorted(root.rglob("*.py"))]
    return [(name, Path(spec.origin))]


@cache
def code_fingerprint(*modules: str) -> str:
    """16 hex digits over the source bytes of ``modules`` (dotted names; a package = all of it)."""
    h = hashlib.sha256()
    for name in sorted(set(modules)):
        for rel, path in _sources(name):
            h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]
