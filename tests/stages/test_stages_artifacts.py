"""``stages/artifacts.py`` is the one owner of artifact paths, and it agrees with dvc.yaml's outs;
no stage module imports another stage module."""

from __future__ import annotations

import ast
from pathlib import Path

#: modules under avsal.stages that hold no stage of their own (every stage may import them)
SHARED = {
    "avsal.stages.artifacts",
    "avsal.stages.common",
    "avsal.stages.scam_maps",
    "avsal.stages.sta_monitor",
}


def _declared_outs(repo_root: Path) -> set[str]:
    from avsal.tuning.graph import load_graph

    return {f"{o.root}/{o.rel}" for n in load_graph(repo_root).nodes.values() for o in n.outs}


def test_every_artifact_path_is_a_declared_out(repo_root, cfg):
    from avsal.stages.artifacts import MAP_NAMES, NETS, STA_VARIANTS, Paths

    assert MAP_NAMES[:3] == tuple(f"cam_{n}" for n in NETS)
    p = Paths(cfg)
    outs = _declared_outs(repo_root)
    sets = cfg.datasets.fixation_sets
    paths = [
        p.prepared("ave"),
        *(p.prepared(s) for s in sets),
        p.model("audio_switch", "switch"),
        p.model("tagger", "fold0"),
        *(p.model(st, n) for st in ("coarse", "fine") for n in NETS),
        p.model("coarse", "sta_cls"),
        *(p.model("sta", v) for v in STA_VARIANTS),
        *(p.cams(s) for s in ("coarse", "fine")),
        *(p.pseudo(s) for s in ("coarse", "fine")),
        *(p.predictions(v, s) for v in STA_VARIANTS for s in sets),
        *(p.method_maps(s) for s in sets),
        p.eval_frames("evaluate"),
        p.eval_frames("ablations"),
        p.checkpoints("sta", "sta"),
        p.report("evaluate.json"),
        p.report("validation_pseudo.json"),
    ]
    art, rep = Path(cfg.paths.artifacts), Path(cfg.paths.reports)
    missing = []
    for path in paths:
        root, base = ("artifacts", art) if path.is_relative_to(art) else ("reports", rep)
        rel = f"{root}/{path.relative_to(base).as_posix()}"
        if not any(rel == o or rel.startswith(o + "/") for o in outs):
            missing.append(rel)
    assert not missing, f"stages/artifacts.py names paths no dvc.yaml stage declares: {missing}"


def test_no_stage_module_imports_another(repo_root):
    stages = repo_root / "src" / "avsal" / "stages"
    problems = []
    for f in sorted(stages.glob("*.py")):
        name = f"avsal.stages.{f.stem}"
        for node in ast.walk(ast.parse(f.read_text())):
            mods = []
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            for m in mods:
                if m.startswith("avsal.stages.") and (stages / f"{m.split('.')[2]}.py").is_file():
                    target = ".".join(m.split(".")[:3])
                    if target != name and target not in SHARED:
                        problems.append(f"{name} imports {target}")
    assert not problems, problems
