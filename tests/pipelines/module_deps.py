"""The avsal modules a stage script can load, by a static walk of its imports (no code runs).

Every ``import`` counts, at module level or inside a function (a lazy import is still code the
stage may run), and importing ``avsal.a.b`` also runs ``avsal/__init__.py`` and
``avsal/a/__init__.py``. What this cannot see (``importlib`` by computed name) the integration
test catches: there each stage records the modules it really loaded.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path


def module_file(src: Path, name: str) -> Path | None:
    """``src/avsal/a/b.py`` or ``src/avsal/a/b/__init__.py`` for ``avsal.a.b``; None if neither."""
    base = src.joinpath(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imported_names(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)  # kept only if a module
    return {n for n in out if n == "avsal" or n.startswith("avsal.")}


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@cache
def _closure(src: Path, start: Path) -> frozenset[str]:
    seen: set[str] = set()
    todo = sorted(_imported_names(start))
    while todo:
        name = todo.pop()
        for mod in _with_parents(name):
            if mod in seen or module_file(src, mod) is None:
                continue
            seen.add(mod)
            todo.extend(_imported_names(module_file(src, mod)))  # type: ignore[arg-type]
    return frozenset(seen)


def static_modules(src: Path, script: Path) -> set[str]:
    """Modules under ``src`` that ``script`` imports, directly or through other modules."""
    mods = set(_closure(src, script))
    helper = script.parent / "_common.py"  # every stage script's shared helper
    if helper.is_file() and helper != script:
        mods |= _closure(src, helper)
    return mods


def uncovered(src_rel: str, modules: set[str], deps: list[str], src: Path) -> list[str]:
    """Modules whose file is neither a dep nor under a dep folder (paths relative to the repo)."""
    out = []
    for mod in sorted(modules):
        f = module_file(src, mod)
        if f is None:
            continue
        rel = Path(src_rel) / f.relative_to(src)
        if not any(rel == Path(d) or Path(d) in rel.parents for d in deps):
            out.append(f"{mod} ({rel.as_posix()})")
    return out
