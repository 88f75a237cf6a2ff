"""What a run read, as MLflow dataset inputs whose digest is the DVC md5 (the Dataset column).

A stage's deps in ``dvc.lock`` say what it read and at which version. They map to the data
people name: the raw AVE clips and each fixation set (``data/`` is one DVC output, ``data.dvc``;
a subfolder's digest is the md5 of DVC's own entries under it, read from the ``.dir`` manifest
in the DVC cache, so it changes exactly when a file in that folder changes), the prepared
caches derived from them, and the pseudo-GT sets (stage outputs with their own ``.dir`` md5).
No mlflow here: :mod:`avsal.tracking.tracker` turns the records into ``log_inputs`` calls.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DatasetRecord", "dataset_records", "subfolder_digests"]

#: folder names under data/ (as the DVC manifest spells them) -> the name shown in MLflow
_AVE_FOLDER = "AVE_Dataset"
_FIXATIONS_FOLDER = "fixations"


@dataclass(frozen=True)
class DatasetRecord:
    """One input of a run: ``name`` shown in the UI, ``digest`` (DVC md5), ``source`` path."""

    name: str
    digest: str
    source: str
    context: str  # "raw" | "derived" | "pseudo-gt"


def _plain(md5: str) -> str:
    return md5[: -len(".dir")] if md5.endswith(".dir") else md5


def _manifest(root: Path, md5: str) -> list[dict[str, Any]] | None:
    """DVC's ``.dir`` manifest (``[{"md5", "relpath"}, ...]``) from the repo's cache, if there.

    A ``dvc exp run --queue/--temp`` copy has no cache of its own: it uses the workspace's,
    which ``$DVC_ROOT`` names.
    """
    plain = _plain(md5)
    for base in dict.fromkeys([root, Path(os.environ.get("DVC_ROOT") or root)]):
        path = base / ".dvc" / "cache" / "files" / "md5" / plain[:2] / f"{plain[2:]}.dir"
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(entries, list):
            return entries
    return None


def subfolder_digests(entries: list[dict[str, Any]], depth: int) -> dict[str, str]:
    """``{first `depth` path parts: md5 of the sorted (relpath, md5) lines under it}``."""
    groups: dict[str, list[str]] = {}
    for entry in entries:
        parts = str(entry.get("relpath", "")).split("/")
        if len(parts) <= depth:
            continue
        key = "/".join(parts[:depth])
        groups.setdefault(key, []).append(f"{entry['relpath']} {entry.get('md5', '')}")
    return {
        key: hashlib.md5("\n".join(sorted(lines)).encode()).hexdigest()
        for key, lines in groups.items()
    }


def _raw_records(root: Path, data_path: str, data_md5: str) -> dict[str, DatasetRecord]:
    """AVE and each fixation set under ``data_path``, keyed by their folder relative to it."""
    entries = _manifest(root, data_md5)
    if entries is None:  # no manifest in the cache (data pulled elsewhere): one digest for all
        return {
            _AVE_FOLDER: DatasetRecord("AVE", _plain(data_md5), data_path, "raw"),
        }
    found: dict[str, DatasetRecord] = {}
    top = subfolder_digests(entries, 1)
    if _AVE_FOLDER in top:
        found[_AVE_FOLDER] = DatasetRecord(
            "AVE", top[_AVE_FOLDER], f"{data_path}/{_AVE_FOLDER}", "raw"
        )
    for key, digest in sorted(subfolder_digests(entries, 2).items()):
        head, _, name = key.partition("/")
        if head == _FIXATIONS_FOLDER:
            found[key] = DatasetRecord(name, digest, f"{data_path}/{key}", "raw")
    return found


def dataset_records(
    root: str | Path,
    dep_md5s: dict[str, str],
    *,
    data_path: str,
    data_md5: str | None,
    artifacts: str,
) -> list[DatasetRecord]:
    """The datasets behind a stage's deps (``{path: md5}`` from dvc.lock), in a stable order.

    ``data`` itself -> AVE + every fixation set; ``<artifacts>/prepared/ave`` -> AVE (raw) and
    the prepared cache; ``<artifacts>/prepared/fixations[/<SET>]`` -> the fixation sets;
    ``<artifacts>/pseudo/<stage>`` -> that pseudo-GT set. Other deps (code, models) are not data.
    """
    root = Path(root)
    raw = _raw_records(root, data_path, data_md5) if data_md5 else {}
    out: dict[str, DatasetRecord] = {}

    def add(record: DatasetRecord | None) -> None:
        if record is not None:
            out.setdefault(f"{record.context}:{record.name}", record)

    prepared, pseudo = f"{artifacts}/prepared", f"{artifacts}/pseudo"
    for path, md5 in sorted(dep_md5s.items()):
        path = path.rstrip("/")
        if path == data_path:
            for record in raw.values():
                add(record)
        elif path == f"{prepared}/ave":
            add(raw.get(_AVE_FOLDER))
            add(DatasetRecord("AVE (prepared)", _plain(md5), path, "derived"))
        elif path.startswith(f"{prepared}/{_FIXATIONS_FOLDER}"):
            sets = path[len(f"{prepared}/{_FIXATIONS_FOLDER}") :].strip("/")
            for key, record in raw.items():
                if key.startswith(f"{_FIXATIONS_FOLDER}/") and (
                    not sets or key.endswith(f"/{sets}")
                ):
                    add(record)
        elif path.startswith(f"{pseudo}/"):
            add(
                DatasetRecord(
                    f"pseudo-GT {path[len(pseudo) + 1 :]}", _plain(md5), path, "pseudo-gt"
                )
            )
    return list(out.values())
