"""Where a run came from: repo root, pipeline id, git commit/dirty, DVC stage and input md5s.

No mlflow here (cheap to import from any stage or subprocess).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from avsal.tracking.params import MAX_TAG_VALUE_LEN, sanitize_key, truncate

PIPELINE_ID_ENV = "AVSAL_PIPELINE_ID"
TAG_PIPELINE_ID = "avsal.pipeline_id"
TAG_GIT_COMMIT = "avsal.git.commit"
TAG_GIT_DIRTY = "avsal.git.dirty"
TAG_GIT_DIRTY_FILES = "avsal.git.dirty_files"
TAG_DVC_STAGE = "avsal.dvc.stage"
TAG_DVC_DEP = "avsal.dvc.dep."  # + dep path -> md5
TAG_DVC_DEPS_CHANGED = "avsal.dvc.deps_changed"
TAG_DVC_DATA = "avsal.dvc.data."  # + out path of a *.dvc file -> md5
TAG_DVC_EXP_NAME = "avsal.dvc.exp_name"  # the DVC experiment (dvc exp run / --queue) of the run
TAG_DVC_EXP_BASELINE = "avsal.dvc.exp_baseline"  # the commit that experiment started from

_DVC_VERBS = {"repro", "exp"}
_VERIFY_FILE_MAX_BYTES = 64 * 2**20  # file deps up to this size are re-hashed (cheap)
_pipeline_id: str | None = None


# --------------------------------------------------------------------------- repo root


def find_repo_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``dvc.yaml`` or ``.git``.

    In a ``dvc exp run --temp/--queue`` workspace this is the temporary copy (it holds its own
    dvc.yaml), which is right for provenance (its dvc.lock, its git tree). Where the *store*
    lives is decided by ``avsal.tracking.store.store_root``, which prefers ``$DVC_ROOT``.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() or (folder / ".git").exists():
            return folder
    raise FileNotFoundError(f"no dvc.yaml or .git at or above {here}; pass repo_root explicitly")


# --------------------------------------------------------------------------- pipeline id


def _is_dvc_pipeline_cmd(cmdline: list[str]) -> bool:
    """``dvc repro ...`` / ``dvc exp run ...`` in any spelling (``python -m dvc``, a venv path)."""
    names = [os.path.basename(token) for token in cmdline]
    for i, name in enumerate(names):
        if name in ("dvc", "dvc.exe"):
            return any(token in _DVC_VERBS for token in names[i + 1 :])
    return False


def _dvc_ancestor_id() -> str | None:
    """Short hash of (pid, create_time) of the nearest ``dvc repro``/``dvc exp`` ancestor."""
    import psutil

    try:
        proc: psutil.Process | None = psutil.Process()
    except psutil.Error:
        return None
    while proc is not None:
        try:
            if _is_dvc_pipeline_cmd(proc.cmdline()):
                key = f"{proc.pid}:{proc.create_time():.6f}"
                return hashlib.sha1(key.encode()).hexdigest()[:16]
        except psutil.Error:  # AccessDenied, ZombieProcess, NoSuchProcess: keep walking
            pass
        try:
            proc = proc.parent()
        except psutil.Error:
            return None
    return None


def pipeline_id() -> str:
    """Id shared by every run of one ``dvc repro`` (tag ``avsal.pipeline_id``).

    Order: ``$AVSAL_PIPELINE_ID``; else derived from the ancestor ``dvc repro``/``dvc exp``
    process, so sibling stage processes agree without talking to each other; else a fresh
    uuid4 hex. The result is cached and exported to ``$AVSAL_PIPELINE_ID`` so this process's
    own children (DDP ranks, Optuna workers) inherit it.
    """
    global _pipeline_id
    env = os.environ.get(PIPELINE_ID_ENV, "").strip()
    if env:
        return env
    if _pipeline_id is None:
        _pipeline_id = _dvc_ancestor_id() or uuid.uuid4().hex
    os.environ.setdefault(PIPELINE_ID_ENV, _pipeline_id)
    return _pipeline_id


# --------------------------------------------------------------------------- git


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def git_info(root: str | Path) -> dict[str, str]:
    """Commit and dirty flag of the work tree at ``root`` ("unknown" outside git).

    ``dvc.lock`` is left out of the dirty check: ``dvc repro`` rewrites it after each stage,
    which would mark every later stage of a clean checkout dirty.
    """
    root = Path(root)
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return {TAG_GIT_COMMIT: "unknown", TAG_GIT_DIRTY: "unknown"}
    status = _git(root, "status", "--porcelain", "--", ".", ":(exclude)dvc.lock")
    if status is None:
        return {TAG_GIT_COMMIT: commit.strip(), TAG_GIT_DIRTY: "unknown"}
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    tags = {TAG_GIT_COMMIT: commit.strip(), TAG_GIT_DIRTY: "true" if changed else "false"}
    if changed:
        tags[TAG_GIT_DIRTY_FILES] = truncate(" ".join(changed[:50]), MAX_TAG_VALUE_LEN)
    return tags


# --------------------------------------------------------------------------- dvc


def _load_yaml(path: Path) -> Any:
    try:
        with path.open() as fh:
            return yaml.safe_load(fh)
    except (OSError, yaml.YAMLError):
        return None


def _entry_hash(entry: Mapping[str, Any]) -> str | None:
    for key in ("md5", "etag", "checksum"):
        if entry.get(key):
            return str(entry[key])
    return None


def _file_md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(2**20), b""):
            h.update(chunk)
    return h.hexdigest()


def stage_dep_md5s(root: str | Path, stage: str) -> tuple[dict[str, str], list[str]]:
    """``{dep path: md5}`` of ``stage`` as locked in ``dvc.lock``, and the deps found changed.

    ``stage`` is DVC's address: ``train``, ``train@sta`` (foreach) or ``sub/dvc.yaml:train``.
    While ``dvc repro`` runs a stage, dvc.lock still holds the *previous* lock. File deps up to
    64 MiB are therefore re-hashed (DVC 3's file md5 is the plain md5 of the bytes) and the
    current md5 wins. A directory dep takes the md5 its producer recorded (another stage's out
    in dvc.lock, which DVC rewrites as soon as that stage ends, or a ``*.dvc`` file), so an
    upstream output remade earlier in the same ``dvc repro`` shows its new md5; re-hashing data
    at every stage start would be too slow. Changed deps are returned so the run can say so.
    A stage that never ran has no lock entry, hence no md5s.
    """
    root = Path(root)
    lockfile, name = root / "dvc.lock", stage
    if ":" in stage:
        yaml_path, name = stage.rsplit(":", 1)
        lockfile = (root / yaml_path).parent / "dvc.lock"
    lock = _load_yaml(lockfile) or {}
    stages = lock.get("stages") or {}
    entry = stages.get(name) or {}
    produced = {**data_md5s(lockfile.parent), **_stage_outs(stages)}
    md5s: dict[str, str] = {}
    changed: list[str] = []
    for dep in entry.get("deps") or []:
        path, locked = dep.get("path"), _entry_hash(dep)
        if not path or locked is None:
            continue
        md5 = produced.get(path.rstrip("/"), locked)
        file = lockfile.parent / path
        if file.is_file() and file.stat().st_size <= _VERIFY_FILE_MAX_BYTES:
            md5 = _file_md5(file)
        if md5 != locked:
            changed.append(path)
        md5s[path] = md5
    return md5s, changed


def _stage_outs(stages: Mapping[str, Any]) -> dict[str, str]:
    """``{out path: md5}`` of every stage in a dvc.lock."""
    found: dict[str, str] = {}
    for entry in stages.values():
        for out in (entry or {}).get("outs") or []:
            md5 = _entry_hash(out)
            if out.get("path") and md5:
                found[str(out["path"]).rstrip("/")] = md5
    return found


def data_md5s(root: str | Path) -> dict[str, str]:
    """``{out path: md5}`` from every ``*.dvc`` file at ``root`` (``data.dvc`` -> ``data``)."""
    found: dict[str, str] = {}
    for dvcfile in sorted(Path(root).glob("*.dvc")):
        doc = _load_yaml(dvcfile) or {}
        for out in doc.get("outs") or []:
            md5 = _entry_hash(out)
            if out.get("path") and md5:
                found[str(out["path"])] = md5
    return found


def dvc_experiment() -> dict[str, str]:
    """The DVC experiment this process runs in: DVC sets ``$DVC_EXP_NAME`` and
    ``$DVC_EXP_BASELINE_REV`` for every stage of ``dvc exp run`` (queued ones included)."""
    tags = {}
    if name := os.environ.get("DVC_EXP_NAME", "").strip():
        tags[TAG_DVC_EXP_NAME] = name
    if base := os.environ.get("DVC_EXP_BASELINE_REV", "").strip():
        tags[TAG_DVC_EXP_BASELINE] = base
    return tags


def provenance_tags(root: str | Path, *, stage: str | None = None) -> dict[str, str]:
    """All provenance tags of a run: pipeline id, git, DVC stage, dep and data md5s.

    ``stage`` defaults to ``$DVC_STAGE``, which DVC sets for every stage command.
    """
    root = Path(root)
    tags = {TAG_PIPELINE_ID: pipeline_id(), **git_info(root), **dvc_experiment()}
    stage = stage or os.environ.get("DVC_STAGE")
    if stage:
        tags[TAG_DVC_STAGE] = stage
        md5s, changed = stage_dep_md5s(root, stage)
        tags.update({sanitize_key(TAG_DVC_DEP + path): md5 for path, md5 in md5s.items()})
        if changed:
            tags[TAG_DVC_DEPS_CHANGED] = truncate(" ".join(changed), MAX_TAG_VALUE_LEN)
    tags.update({sanitize_key(TAG_DVC_DATA + p): md5 for p, md5 in data_md5s(root).items()})
    return tags
