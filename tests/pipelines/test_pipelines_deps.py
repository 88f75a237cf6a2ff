"""dvc.yaml lists the code every stage runs, and nothing in the project reaches outside it.

The modules are derived (a static walk of each stage script's imports, ``module_deps``), never
kept by hand; the integration test checks the same against the modules each stage really loaded.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from module_deps import static_modules, uncovered  # noqa: E402


def _stages(repo_root: Path) -> list[tuple[str, Path, list[str]]]:
    from dvc.repo import Repo

    with Repo(str(repo_root)) as repo:
        out = []
        for st in repo.index.stages:
            if not st.cmd:
                continue
            m = re.match(r"python (pipelines/\w+\.py)", st.cmd)
            assert m, f"{st.name}: cmd {st.cmd!r} is not `python pipelines/<stage>.py ...`"
            out.append((st.name, repo_root / m.group(1), [d.def_path for d in st.deps]))
        return out


def test_every_stage_lists_the_modules_it_imports(repo_root):
    stages = _stages(repo_root)
    assert len(stages) > 20  # the foreach stages are expanded
    problems = []
    for name, script, deps in stages:
        rel = script.relative_to(repo_root).as_posix()
        missing = [d for d in (rel, "pipelines/_common.py") if d not in deps]
        missing += uncovered(
            "src", static_modules(repo_root / "src", script), deps, repo_root / "src"
        )
        problems += [f"{name}: dvc.yaml deps miss {m}" for m in missing]
    assert not problems, "\n".join(problems)


def test_the_check_names_a_missing_module(repo_root):
    script = repo_root / "pipelines" / "scam.py"
    deps = ["pipelines/scam.py", "src/avsal/config"]
    missing = uncovered("src", static_modules(repo_root / "src", script), deps, repo_root / "src")
    assert "avsal.cam.scam (src/avsal/cam/scam.py)" in missing
    assert not any(m.startswith("avsal.config ") for m in missing)


def test_stage_scripts_import_no_stage_before_main(repo_root):
    """Top level of a stage script: only ``_common`` (the stage module loads in ``main``, after
    the CPU numerics are set, so torch never starts with other settings)."""
    import ast

    for script in sorted((repo_root / "pipelines").glob("*.py")):
        tree = ast.parse(script.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {
            a.name if isinstance(n, ast.Import) else (n.module or "") for n in top for a in n.names
        }
        assert not {n for n in names if n.startswith("avsal.stages") or n == "torch"}, (
            f"{script.name}: {names}"
        )


OUTSIDE = re.compile(r"\.\./shared|/work/|/home/|/root/|/tmp/")


@pytest.mark.parametrize(
    "pattern",
    [
        "src/**/*.py",
        "pipelines/*.py",
        "tests/**/*.py",
        "dvc.yaml",
        "params.yaml",
        "Makefile",
        "profiles/*.yaml",
        "reports/*.md",
        "reports/*.html",
        "reports/**/*.json",
        ".ci/run",
    ],
)
def test_nothing_names_a_path_outside_the_repository(repo_root, pattern):
    me = Path(__file__).resolve()
    bad = []
    for path in sorted(repo_root.glob(pattern)):
        if path.resolve() == me or not path.is_file() or "bench" in path.parts:
            continue
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) and "tmp_path" not in line:
                bad.append(f"{path.relative_to(repo_root)}:{i}: {line.strip()[:120]}")
    assert not bad, "\n".join(bad)
