"""One trial = the pipeline of ``dvc.yaml`` with other params, on the shared cache.

Every stage a trial needs (``train_sta@sta`` and everything upstream of it in ``dvc.yaml``,
``validate_pseudo`` included) runs exactly as ``dvc repro`` runs it: the stage script's ``main``
with the flags of its ``cmd`` (in this process, untracked: ``--no-mlflow``), under roots of its
own.  Its cache key is what DVC compares (:mod:`avsal.tuning.graph`): the stage name, the values
of its declared params, and the content of its declared deps, where a dep that another stage
produces is named by the content of that stage's outs.  The code is among the deps (the stage's
modules, checked by the deps test), so an edit redoes what it can change and nothing else.

STA training is :func:`avsal.stages.sta.run_train` with its epoch hooks (the objective after
every epoch, the pruner's stop); prediction is :func:`avsal.stages.sta.predict_set` and scoring
is the evaluate stage's (:func:`avsal.stages.evaluate.score_videos`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from avsal.config import Config
from avsal.errors import NoTrainingData, ValidationFailed
from avsal.tuning.cache import Cache, Entry, overlay
from avsal.tuning.graph import Graph, Node, load_graph, project_root
from avsal.utils.hashing import digest, plain, tree_digest

__all__ = [
    "TunePaths",
    "with_paths",
    "param_value",
    "TrialPipeline",
    "Scorer",
    "INFEASIBLE",
    "TARGET",
]

#: what a trial trains: the main STA net (its upstream in dvc.yaml comes along)
TARGET = "train_sta@sta"
#: failures that mark a region of the space to steer away from, not a bug
INFEASIBLE = (ValidationFailed, NoTrainingData)

Progress = Callable[[str, Entry], None]


class TunePaths:
    """``<artifacts>/tune/{optuna.db, cache/, studies/<study>/}`` and ``<reports>/tune/<study>/``."""

    def __init__(self, cfg: Config, study: str | None = None) -> None:
        self.root = Path(cfg.paths.artifacts).resolve() / "tune"
        self.cache = self.root / "cache"
        self.study = study
        self.study_dir = self.root / "studies" / study if study else None
        self.reports = Path(cfg.paths.reports).resolve() / "tune" / study if study else None
        self.main_prepared = Path(cfg.paths.artifacts).resolve() / "prepared"

    @property
    def default_storage(self) -> str:
        return f"sqlite:///{(self.root / 'optuna.db').as_posix()}"


def with_paths(cfg: Config, artifacts: Path, reports: Path) -> Config:
    """``cfg`` writing its stage outputs under ``artifacts`` / ``reports``."""
    return dataclasses.replace(
        cfg, paths=dataclasses.replace(cfg.paths, artifacts=str(artifacts), reports=str(reports))
    )


def param_value(cfg: Config, key: str) -> Any:
    """The value of a dotted params.yaml key (``scam.lam``, ``coarse``) in ``cfg``."""
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link copy of a folder (a copy where links are impossible); shard writers only ever
    replace files, never write into them, so the source is never modified through the links."""
    for folder, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if not d.endswith(".tmp")]
        rel = Path(folder).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            target = dst / rel / name
            if name.startswith(".") or target.exists():
                continue
            try:
                os.link(Path(folder) / name, target)
            except OSError:
                shutil.copy2(Path(folder) / name, target)


def _load_script(path: Path) -> Any:
    """A ``pipelines/<stage>.py`` module (its ``main``, ``_flags``), imported once per process."""
    name = f"_avsal_pipeline_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the scripts import their shared ``_common``
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path}: cannot import the stage script")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _brief(result: Any) -> Any:
    """A stage's metrics without per-epoch histories (kept small in entry.json)."""
    if isinstance(result, dict):
        return {k: _brief(v) for k, v in result.items() if k != "history"}
    return result


class TrialPipeline:
    """Builds (or finds) every cache entry of ``dvc.yaml``'s stages that a config needs."""

    def __init__(self, base: Config, *, project: str | Path | None = None) -> None:
        self.paths = TunePaths(base)
        self.cache = Cache(self.paths.cache)
        self.project = project_root(project)
        self.graph: Graph = load_graph(self.project)
        self._files: dict[
            Path, str
        ] = {}  # project files and raw data: constant while a process runs

    # ------------------------------------------------------------------ keys
    def _file(self, path: Path) -> str:
        if path not in self._files:
            self._files[path] = tree_digest(path)
        return self._files[path]

    def _dep(self, cfg: Config, root: str, rel: str, entries: dict[str, Entry]) -> Any:
        """The content of a dep, as DVC would hash it: a project file or folder (code), the raw
        data, or what upstream entries hold at that path (a file inside an out: that file only,
        so e.g. unchanged crop boxes keep the fine nets of an earlier trial)."""
        if root not in ("artifacts", "reports"):
            base = Path(cfg.paths.data) if root == "data" else self.project
            return self._file((base / rel).resolve())
        producers = self.graph.producers(root, rel)
        if not producers:
            raise FileNotFoundError(f"dvc.yaml: dep {root}/{rel} is produced by no stage")
        path = f"{root}/{rel}"
        parts: dict[str, str] = {}
        for p in producers:
            e = entries[p.name]
            digests = e.info()["digests"]
            for out in e.outs:
                if out == path or out.startswith(path + "/"):  # the dep holds this out
                    parts[out] = digests[out]
                elif path.startswith(out + "/"):  # the dep is inside this out
                    parts[path] = (
                        digests[out] if out.startswith("reports/") else self._file(e.root / path)
                    )
        return parts

    def key(self, cfg: Config, node: Node, entries: dict[str, Entry]) -> tuple[str, dict[str, Any]]:
        """The cache key of ``node`` under ``cfg``, and what it was made of (kept in entry.json)."""
        inputs = {
            "stage": node.name,
            "cmd": [node.script, *node.argv],
            "params": {k: plain(param_value(cfg, k)) for k in node.params},
            "deps": {f"{r}/{p}" if r else p: self._dep(cfg, r, p, entries) for r, p in node.deps},
        }
        return digest(inputs), inputs

    # ------------------------------------------------------------------ builds
    def _outs(self, node: Node) -> tuple[str, ...]:
        """Outs an entry holds: cached artifacts and the reports (checkpoints stay behind)."""
        return tuple(f"{o.root}/{o.rel}" for o in node.outs if o.cached or o.root == "reports")

    def _builder(
        self, cfg: Config, node: Node, hooks: dict[str, Any]
    ) -> Callable[[Path, Path], dict[str, Any]]:
        def build(art: Path, rep: Path) -> dict[str, Any]:
            c = with_paths(cfg, art, rep)
            if (
                node.base == "prepare"
                and self.paths.main_prepared.is_dir()
                and not (art / "prepared").exists()
            ):
                _link_tree(
                    self.paths.main_prepared, art / "prepared"
                )  # only changed shards decode again
            module = _load_script(self.project / node.script)
            common = sys.modules["_common"]
            if node.base == "train_sta":  # the STA stage with the trial's epoch hooks
                from avsal.stages.sta import run_train

                args = common.parse(module, list(node.argv))
                score = hooks["score_epoch"]
                result = run_train(
                    c,
                    variant=args.variant,
                    track=False,
                    on_epoch=hooks["on_epoch"],
                    score_epoch=None if score is None else (lambda m, e: score(m, e, c)),
                )
            else:
                result = common.call(module, [*node.argv, "--no-mlflow"], c)
            return _brief(result)

        return build

    def _finish(self, entry: Entry) -> Entry:
        """Record the content digests of an entry's outs once (what downstream keys read)."""
        import json

        info_path = entry.root / "entry.json"
        info = json.loads(info_path.read_text())
        if "digests" not in info:
            info["digests"] = {
                o: tree_digest(entry.root / o) if o.startswith("artifacts/") else entry.key
                for o in entry.outs
            }
            tmp = info_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(info, indent=1, sort_keys=True, default=str) + "\n")
            os.replace(tmp, info_path)
        return entry

    def entries(
        self,
        cfg: Config,
        *,
        targets: tuple[str, ...] = (TARGET,),
        score_epoch: Callable[[Any, int, Config], dict[str, float]] | None = None,
        on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Entry]:
        """Every entry ``targets`` need under ``cfg``, in ``dvc.yaml`` order.

        ``score_epoch(model, epoch, cfg)`` scores an STA epoch (``cfg``: the build's roots) and
        ``on_epoch(epoch, record)`` may stop it (see ``run_train``); a failing
        great-expectations suite (``validate_pseudo``) raises :class:`ValidationFailed`.
        """
        hooks = {"score_epoch": score_epoch, "on_epoch": on_epoch}
        out: dict[str, Entry] = {}
        for node in self.graph.upstream(list(targets)):
            key, inputs = self.key(cfg, node, out)
            upstream = [
                out[n.name] for n in self.graph.upstream([node.name]) if n.name != node.name
            ]
            e = self.cache.ensure(
                node.name,
                key,
                self._builder(cfg, node, hooks),
                outs=self._outs(node),
                upstream=upstream,
                inputs={"params": inputs["params"]},
            )
            out[node.name] = self._finish(e)
            if progress is not None:
                progress(node.name, e)
        return out

    def workspace(self, cfg: Config, folder: Path, entries: dict[str, Entry]) -> Config:
        """A trial folder whose artifacts/reports overlay ``entries``; ``cfg`` pointed at it."""
        overlay(folder, list(entries.values()))
        for sub in ("artifacts", "reports"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return with_paths(cfg, folder / "artifacts", folder / "reports")


class Scorer:
    """The evaluate stage's protocol on fixed videos of each set, ground truth read once."""

    def __init__(self, cfg: Config, videos: dict[str, list[str]], metrics: tuple[str, ...]) -> None:
        from avsal.stages.evaluate import GroundTruth

        self.truth = GroundTruth(cfg.paths.fixation_root)
        self.videos = videos
        self.metrics = tuple(metrics)

    def table(self, cfg: Config, model: Any) -> dict[str, dict[str, float]]:
        """{set: {metric: value}}: frame mean per video, unweighted mean over videos."""
        from avsal.stages.evaluate import score_videos, video_maps
        from avsal.stages.sta import predict_set

        out: dict[str, dict[str, float]] = {}
        for set_name, videos in self.videos.items():
            store = predict_set(cfg, set_name, videos=videos, model=model)
            ev = score_videos(
                cfg,
                self.truth,
                set_name,
                videos,
                lambda v, n, _shape, s=store: video_maps(s, v, n),
                metrics=self.metrics,
                workers=1,
            )
            out[set_name] = {str(r.metric): float(r.value) for r in ev.datasets.itertuples()}
        return out

    def objective(
        self, table: dict[str, dict[str, float]], metrics: tuple[str, ...] | None = None
    ) -> float:
        """Mean over sets of the mean of ``metrics`` (default: all scored) of each set."""
        ms = metrics or self.metrics
        return float(np.mean([np.mean([table[s][m] for m in ms]) for s in table]))
