"""Strict conversion of a raw params mapping into the schema's dataclasses.

Why strict: a typo or a wrong type in params.yaml must fail loudly, naming the key and the file,
instead of silently falling back to a default.  The allowed keys and types are read from the
dataclasses' fields and type hints, so nothing here repeats the schema.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from avsal.config.schema import ConfigError

__all__ = ["convert", "from_dict", "type_name"]


def type_name(tp: Any) -> str:
    """A type as the error messages show it (``float``, ``str | None``, ``Literal['a', 'b']``)."""
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def convert(value: Any, tp: Any, where: str, source: str) -> Any:
    """``value`` as type ``tp``, or ConfigError naming ``source`` and the dotted key ``where``.

    No scalar coercion beyond int -> float: YAML ``"3"`` is no int and ``1`` is no bool, because such a
    value in params.yaml is almost always a mistake.
    """
    origin = get_origin(tp)
    args = get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{where}' must be a mapping, got {type(value).__name__}")
        return from_dict(tp, value, where=where, source=source)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return convert(value, arg, where, source)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{source}: '{where}' = {value!r} matches none of {type_name(tp)}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{source}: '{where}' = {value!r}, expected one of {list(args)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: '{where}' must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(convert(v, args[0], f"{where}[{i}]", source) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{source}: '{where}' must have {len(args)} items, got {len(value)}")
        return tuple(
            convert(v, a, f"{where}[{i}]", source) for i, (v, a) in enumerate(zip(value, args))
        )
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{where}' must be a mapping, got {value!r}")
        kt, vt = args
        return {
            convert(k, kt, f"{where}", source): convert(v, vt, f"{where}.{k}", source)
            for k, v in value.items()
        }
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{where}' must be a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{where}' must be an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{where}' must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: '{where}' must be a string, got {value!r}")
        return value
    if tp is Any:
        return value
    raise ConfigError(f"{source}: '{where}': unsupported config type {tp!r}")  # pragma: no cover


def from_dict(cls: type, data: dict[str, Any], *, where: str = "", source: str = "<dict>") -> Any:
    """Build dataclass ``cls`` from ``data``; unknown or missing keys raise ConfigError."""
    hints = typing.get_type_hints(cls)
    fields = {
        f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")
    }
    prefix = f"{where}." if where else ""
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}; "
            f"allowed here: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            has_default = (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue
            raise ConfigError(f"{source}: missing key '{prefix}{name}'")
        kwargs[name] = convert(data[name], hints[name], prefix + name, source)
    return cls(**kwargs)
