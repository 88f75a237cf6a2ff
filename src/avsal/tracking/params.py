"""Nested config -> flat MLflow params (dotted keys, string values within MLflow's limits).

Why: MLflow params are a flat ``str -> str`` map with a key alphabet, a key length limit (250)
and a value length limit (500 on older servers/schemas, 6000 on MLflow 3). The full nested
params are also logged as ``params.json`` by ``Tracker.run``, so truncation loses nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import PurePath
from typing import Any, TypeVar

MAX_KEY_LEN = 250
# 500 is the limit of older MLflow servers/DB schemas; staying under it keeps runs portable.
MAX_PARAM_VALUE_LEN = 500
MAX_TAG_VALUE_LEN = 5000  # 8000 on MLflow 3, 5000 on older schemas
BATCH_SIZE = 100  # MLflow's MAX_PARAMS_TAGS_PER_BATCH
_BAD_KEY_CHARS = re.compile(r"[^/\w.\- :]")

T = TypeVar("T")


def to_plain(obj: Any) -> Any:
    """Dataclasses / objects with ``to_dict()`` -> plain dicts (recursively for mappings)."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        obj = obj.to_dict()
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    return obj


def sanitize_key(key: str) -> str:
    """Make ``key`` a valid MLflow param/metric/tag name (bad characters -> ``_``)."""
    key = _BAD_KEY_CHARS.sub("_", str(key)).strip("/") or "_"
    key = re.sub(r"/{2,}", "/", key)
    # MLflow rejects names that normalise to another path ("a/./b", "../x")
    parts = ["_" if p in (".", "..") else p for p in key.split("/")]
    key = "/".join(parts)
    if len(key) > MAX_KEY_LEN:
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        key = f"{key[: MAX_KEY_LEN - 9]}~{digest}"
    return key


def stringify(value: Any) -> str:
    """One param value as text: lists/tuples as JSON (readable, stable), the rest via ``str``."""
    if isinstance(value, (list, tuple)):
        try:
            return json.dumps(to_plain(list(value)), default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, PurePath):
        return value.as_posix()
    return str(value)


def truncate(value: str, limit: int) -> str:
    """Cut ``value`` to ``limit`` chars, ending in a short hash so distinct values stay distinct."""
    if len(value) <= limit:
        return value
    suffix = "...#" + hashlib.sha1(value.encode()).hexdigest()[:8]
    return value[: max(limit - len(suffix), 0)] + suffix


def flatten_params(
    params: Any, *, sep: str = ".", max_value_len: int = MAX_PARAM_VALUE_LEN
) -> dict[str, str]:
    """Nested dict (or config dataclass) -> ``{"a.b.c": "value"}``.

    Lists/tuples become JSON strings, an empty dict is kept as ``"{}"`` (so it still shows up),
    values longer than ``max_value_len`` are truncated with a hash suffix.
    """
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            if not value and prefix:
                flat[sanitize_key(prefix)] = "{}"
            for k, v in value.items():
                walk(f"{prefix}{sep}{k}" if prefix else str(k), v)
        else:
            flat[sanitize_key(prefix or "value")] = truncate(stringify(value), max_value_len)

    walk("", to_plain(params))
    return flat


def batched(items: Iterable[T], size: int = BATCH_SIZE) -> Iterator[list[T]]:
    """Chunks of at most ``size`` items (MLflow's per-request limits)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
