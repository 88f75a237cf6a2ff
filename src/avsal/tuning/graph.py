"""The pipeline as ``dvc.yaml`` declares it: stages, their params, deps and outs (read by DVC).

Why: a tuning trial is the pipeline with other params.  Its cache key for a stage must be what
DVC itself would compare (the stage's declared params and the content of its deps), so it is
read from ``dvc.yaml`` through DVC's own parser and templating, never restated by hand.  Paths
come back relative to the roots of params.yaml (``paths.artifacts``, ``paths.reports``,
``paths.data``), so a trial can place every output under its own roots.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["Out", "Node", "Graph", "load_graph", "project_root", "ROOTS"]

#: the params.yaml roots a dvc.yaml path may live under (the rest are project files: code)
ROOTS = ("artifacts", "reports", "data")


@dataclass(frozen=True)
class Out:
    """One declared output: ``root`` (artifacts | reports) and its path below that root."""

    root: str
    rel: str
    cached: bool  # ``cache: false`` outs (reports, checkpoints) are not part of a stage's result
    persist: bool


@dataclass(frozen=True)
class Node:
    """One resolved stage (a ``foreach`` item is its own node, e.g. ``train_cls@coarse-s``)."""

    name: str
    script: str  # pipelines/<x>.py
    argv: tuple[str, ...]  # its flags, as in the cmd
    params: tuple[str, ...]  # dotted params.yaml keys
    deps: tuple[tuple[str, str], ...]  # (root | "", path below the root or from the project)
    outs: tuple[Out, ...]

    @property
    def base(self) -> str:
        return self.name.split("@", 1)[0]


def project_root(start: str | Path | None = None) -> Path:
    """The folder holding ``dvc.yaml``: from ``start`` (default: the working directory) upward,
    else the checkout this package is installed from (``pip install -e``), so a campaign over a
    world outside the project still runs the project's stages."""
    here = Path(start or Path.cwd()).resolve()
    package_checkout = Path(__file__).resolve().parents[3]  # <checkout>/src/avsal/tuning/graph.py
    for folder in (*(here, *here.parents), package_checkout):
        if (folder / "dvc.yaml").is_file() and (folder / "pipelines").is_dir():
            return folder
    raise FileNotFoundError(
        f"{here}: no dvc.yaml here or above: tuning runs the stages of the project's dvc.yaml"
    )


def _split(path: str, prefixes: dict[str, str]) -> tuple[str, str]:
    """(root, rel) of a dvc.yaml path: which params.yaml root it lives under, if any."""
    p = Path(path).as_posix()
    for root, prefix in prefixes.items():
        if p == prefix:
            return root, ""
        if p.startswith(prefix + "/"):
            return root, p[len(prefix) + 1 :]
    return "", p


class Graph:
    """Resolved stages in ``dvc.yaml`` order, with who produces what."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = {n.name: n for n in nodes}

    def producers(self, root: str, rel: str) -> list[Node]:
        """Stages with an out at, inside or above ``root/rel`` (DVC's own overlap rule)."""
        out = []
        for n in self.nodes.values():
            for o in n.outs:
                if o.root != root:
                    continue
                if (
                    o.rel == rel
                    or o.rel.startswith(rel + "/")
                    or rel.startswith(o.rel + "/")
                    or not rel
                ):
                    out.append(n)
                    break
        return out

    def upstream(self, targets: list[str]) -> list[Node]:
        """``targets`` and everything they depend on, each after its producers."""
        order: list[Node] = []
        seen: set[str] = set()

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in seen:
                return
            if name in trail:
                raise ValueError(f"dvc.yaml: dependency cycle {' -> '.join((*trail, name))}")
            node = self.nodes[name]
            for root, rel in node.deps:
                if root in ("artifacts", "reports"):
                    for p in self.producers(root, rel):
                        if p.name != name:
                            visit(p.name, (*trail, name))
            seen.add(name)
            order.append(node)

        for t in targets:
            if t not in self.nodes:
                raise KeyError(f"dvc.yaml has no stage {t!r}; known: {sorted(self.nodes)}")
            visit(t, ())
        return order


def load_graph(root: str | Path | None = None) -> Graph:
    """The stages of ``<root>/dvc.yaml`` as DVC resolves them (foreach, ``${...}`` templating)."""
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    root = project_root(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    prefixes = {r: Path(params["paths"][r]).as_posix().rstrip("/") for r in ROOTS}
    nodes = []
    with Repo(str(root)) as repo:
        for st in repo.index.stages:
            if not isinstance(st, PipelineStage):  # data.dvc and other .dvc files: no command
                continue
            cmd = shlex.split(st.cmd if isinstance(st.cmd, str) else " ".join(st.cmd))
            if len(cmd) < 2 or cmd[0] != "python" or not cmd[1].startswith("pipelines/"):
                raise ValueError(
                    f"dvc.yaml stage {st.name}: cmd {st.cmd!r} is not `python pipelines/<stage>.py ...`"
                )
            keys: list[str] = []
            deps: list[tuple[str, str]] = []
            for d in st.deps:
                if getattr(d, "params", None) is not None:  # a ParamsDependency
                    keys += list(d.params)
                else:
                    deps.append(_split(d.def_path, prefixes))
            outs = []
            for o in st.outs:
                r, rel = _split(o.def_path, prefixes)
                if r not in ("artifacts", "reports"):
                    raise ValueError(
                        f"dvc.yaml stage {st.name}: out {o.def_path} is outside paths.artifacts / paths.reports"
                    )
                outs.append(Out(r, rel, bool(o.use_cache), bool(o.persist)))
            nodes.append(
                Node(st.name, cmd[1], tuple(cmd[2:]), tuple(keys), tuple(deps), tuple(outs))
            )
    return Graph(nodes)
