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


def code_deps(src_rel: str, src: Path, script: Path, repo: Path) -> list[str]:
    """The code deps dvc.yaml lists for a stage: its script, ``pipelines/_common.py``, each
    ``avsal.stages`` module it loads (a file: stages are small and change one at a time), every
    other package it touches (a folder) and top-level modules (a file)."""
    out = {script.relative_to(repo).as_posix(), "pipelines/_common.py"}
    for mod in static_modules(src, script):
        f = module_file(src, mod)
        if f is None:
            continue
        parts = mod.split(".")
        if (
            len(parts) == 1
            or (parts[1] == "stages")
            or (len(parts) == 2 and f.name != "__init__.py")
        ):
            out.add((Path(src_rel) / f.relative_to(src)).as_posix())
        else:
            out.add(f"{src_rel}/avsal/{parts[1]}")
    return sorted(out)


def rewrite_dvc_yaml(repo: Path) -> bool:
    """Replace the code deps of every stage in ``dvc.yaml`` by :func:`code_deps`; True if changed."""
    import re

    path = repo / "dvc.yaml"
    lines = path.read_text().splitlines(keepends=True)
    out, script, in_deps, indent = [], None, False, ""
    for line in lines:
        m = re.search(r"cmd: python (pipelines/\w+\.py)", line)
        if m:
            script = repo / m.group(1)
        if re.match(r"\s+deps:\s*$", line):
            in_deps, indent = True, ""
            out.append(line)
            continue
        if in_deps:
            item = re.match(r"(\s+)- (.+?)\s*$", line)
            if item and not item.group(2).endswith(":"):
                indent = item.group(1)
                if item.group(2).startswith(("pipelines/", "src/avsal")):
                    continue  # regenerated below
                out.append(line)
                continue
            assert script is not None, "a deps block before its cmd"
            out += [f"{indent}- {d}\n" for d in code_deps("src", repo / "src", script, repo)]
            in_deps = False
        out.append(line)
    text = "".join(out)
    changed = text != path.read_text()
    path.write_text(text)
    return changed


if __name__ == "__main__":  # python tests/pipelines/module_deps.py: regenerate dvc.yaml's code deps
    import sys

    root = Path(__file__).resolve().parents[2]
    print(
        "dvc.yaml updated"
        if rewrite_dvc_yaml(root)
        else "dvc.yaml already lists the code every stage imports"
    )
    sys.exit(0)
