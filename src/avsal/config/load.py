"""Reading params: params.yaml, ``-S`` overrides, profiles, and overrides of a loaded config.

Why here and not in the stages: the config is the contract between DVC (which tracks
params.yaml keys), the CLI and the library.  Every path into a :class:`Config` converts with
:func:`from_dict` and ends in :func:`check`, so a typo fails the same way wherever it comes
from.  Classes elsewhere never read the params file; stages unpack the fields they need.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from avsal.config.checks import check, param_type
from avsal.config.convert import from_dict
from avsal.config.schema import Config, ConfigError

__all__ = [
    "apply_overrides",
    "deep_merge",
    "load_config",
    "load_profile",
    "parse_overrides",
    "profile_overrides",
    "with_overrides",
]


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``-S key.sub=value`` pairs (values parsed as YAML, as ``dvc exp run -S`` does)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"-S expects key=value, got '{item}'")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], *, source: str) -> None:
    """Set dotted-key ``overrides`` (``-S`` flags, tuned params) in a raw params mapping, in place.

    Only existing keys may be set: a typo is an error naming ``source`` and the key.
    """
    for dotted, value in overrides.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for p in parents:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"{source}: override '{dotted}': '{p}' is not a section")
            node = node[p]
        if leaf not in node:
            raise ConfigError(f"{source}: override '{dotted}': unknown key '{leaf}'")
        node[leaf] = value


def load_config(
    path: str | Path = "params.yaml", overrides: dict[str, Any] | None = None
) -> Config:
    """Read params.yaml (plus dotted-key ``overrides``) into a frozen :class:`Config`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    apply_overrides(raw, overrides or {}, source=str(path))
    cfg = from_dict(Config, raw, source=str(path))
    cfg = dataclasses.replace(cfg, params_file=str(path))
    check(cfg)
    return cfg


def deep_merge(
    base: dict[str, Any], overrides: dict[str, Any], *, where: str = "", source: str = "<profile>"
) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, key by key; a key unknown to ``base`` and to the
    schema is an error (one the schema knows, an optional param, may be new to ``base``).

    Mappings merge recursively (a section keeps the keys a profile does not mention), except
    ``synth.fixation_sets``, which a profile replaces whole (it chooses the sets).
    """
    out = dict(base)
    for k, v in overrides.items():
        path = f"{where}.{k}" if where else k
        if k not in base:
            try:
                param_type(path)
            except KeyError:
                raise ConfigError(f"{source}: unknown key '{path}'") from None
        if isinstance(v, dict) and isinstance(base[k], dict) and path != "synth.fixation_sets":
            out[k] = deep_merge(base[k], v, where=path, source=source)
        else:
            out[k] = v
    return out


def load_profile(
    params: str | Path, *profiles: str | Path, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """params.yaml merged with profile files in order (e.g. ``profiles/paper.yaml``), then
    dotted-key ``overrides``; validated.  Returns the raw mapping (a params.yaml to write)."""
    merged = yaml.safe_load(Path(params).read_text())
    for profile in profiles:
        prof = yaml.safe_load(Path(profile).read_text()) or {}
        merged = deep_merge(merged, prof, source=str(profile))
    source = " + ".join(str(p) for p in (params, *profiles))
    apply_overrides(merged, overrides or {}, source=source)
    cfg = from_dict(Config, merged, source=source)
    check(dataclasses.replace(cfg, params_file=source))
    return merged


def profile_overrides(profile: str | Path) -> list[str]:
    """A profile as ``key.path=value`` strings for ``dvc exp run -S`` (leaves only)."""
    prof = yaml.safe_load(Path(profile).read_text()) or {}
    out: list[str] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and prefix != "synth.fixation_sets":
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out.append(f"{prefix}={json.dumps(node)}")

    walk("", prof)
    return out


def with_overrides(cfg: Config, params: dict[str, Any], *, source: str = "<overrides>") -> Config:
    """``cfg`` with dotted-key ``params`` set, re-typed and re-checked exactly like a params file.

    Why a round trip through the raw mapping: a tuned or fixed value then meets the same
    converter and checks as one written in params.yaml (an unknown key, a wrong type or a
    broken cross-field rule is refused, naming ``source``, which becomes ``params_file``).
    """
    raw = cfg.to_dict()
    apply_overrides(raw, params, source=source)
    out = dataclasses.replace(from_dict(Config, raw, source=source), params_file=source)
    check(out)
    return out
