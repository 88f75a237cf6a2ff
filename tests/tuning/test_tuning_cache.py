"""The content-addressed cache: one build per key across processes, atomic entries, resumable
partial builds; and trial keys that are what dvc.yaml declares."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from avsal.tuning.cache import Cache, overlay

OUTS = {
    "coarse": ("artifacts/models/coarse/s.pt", "reports/train/coarse-s.json"),
    "scam_coarse": ("artifacts/pseudo/coarse",),
    "sta": ("artifacts/models/sta/sta.pt",),
    "fine": ("artifacts/models/fine/s.pt",),
}


def _build_into(art: Path, group: str, text: str) -> None:
    """Write the outs of ``group`` (files; ``pseudo/coarse`` a folder) under the build's roots."""
    for rel in OUTS[group]:
        path = art.parent / rel
        if path.suffix:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        else:
            path.mkdir(parents=True, exist_ok=True)
            (path / "out.txt").write_text(text)


def _racer(root: str, counter: str, barrier) -> str:
    import time

    def build(art: Path, rep: Path) -> dict:
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        _build_into(art, "coarse", "nets")
        return {"by": os.getpid()}

    barrier.wait()
    e = Cache(root).ensure("coarse", "k1", build, outs=OUTS["coarse"])
    return (e.artifacts / "models/coarse/s.pt").read_text()


def test_concurrent_workers_build_an_entry_once(tmp_path):
    ctx = mp.get_context("spawn")
    counter = tmp_path / "builds.txt"
    barrier = ctx.Manager().Barrier(3)
    with ctx.Pool(3) as pool:
        outs = pool.starmap(_racer, [(str(tmp_path / "cache"), str(counter), barrier)] * 3)
    assert outs == ["nets"] * 3
    assert len(counter.read_text().split()) == 1  # the two others waited on the lock, then hit
    entry = tmp_path / "cache" / "coarse" / "k1"
    assert json.loads((entry / "entry.json").read_text())["key"] == "k1"
    assert not (tmp_path / "cache" / "coarse" / "k1.partial").exists()


def test_a_killed_build_leaves_no_entry_and_the_next_build_resumes_its_partial(tmp_path):
    cache = Cache(tmp_path)

    def dies(art: Path, rep: Path) -> dict:
        (art / "checkpoints").mkdir(parents=True)
        (art / "checkpoints" / "epoch1").write_text("state")
        raise KeyboardInterrupt  # stands for a SIGKILL mid-build

    with pytest.raises(KeyboardInterrupt):
        cache.ensure("sta", "k", dies, outs=OUTS["sta"])
    assert cache.get("sta", "k") is None

    seen = {}

    def resumes(art: Path, rep: Path) -> dict:
        seen["checkpoint"] = (art / "checkpoints" / "epoch1").read_text()
        _build_into(art, "sta", "weights")
        return {}

    e = cache.ensure("sta", "k", resumes, outs=OUTS["sta"])
    assert seen["checkpoint"] == "state" and not e.hit
    assert not (e.artifacts / "checkpoints").exists()  # checkpoints are not part of the entry
    assert cache.ensure("sta", "k", resumes, outs=OUTS["sta"]).hit


def test_entries_hold_only_their_own_outputs_and_overlays_link_them(tmp_path):
    cache = Cache(tmp_path / "c")
    up = cache.ensure(
        "train_cls@coarse-s",
        "a",
        lambda art, rep: _build_into(art, "coarse", "coarse nets"),
        outs=OUTS["coarse"],
    )

    def build_scam(art: Path, rep: Path) -> dict:
        assert (art / "models/coarse/s.pt").read_text() == "coarse nets"  # upstream, via a link
        assert (rep / "train/coarse-s.json").is_file()  # reports of upstream stages too
        _build_into(art, "scam_coarse", "maps")
        return {}

    e = cache.ensure("scam@coarse", "b", build_scam, outs=OUTS["scam_coarse"], upstream=[up])
    assert e.root == tmp_path / "c" / "scam" / "coarse" / "b"
    files = sorted(str(p.relative_to(e.root)) for p in e.root.rglob("*"))
    assert not any(p.is_symlink() for p in e.root.rglob("*"))
    assert "artifacts/pseudo/coarse/out.txt" in files and not any(
        "models" in f or "train" in f for f in files
    )
    ws = tmp_path / "trial"
    overlay(ws, [up, e])
    assert (ws / "artifacts/models/coarse/s.pt").is_symlink() and (
        ws / "artifacts/pseudo/coarse/out.txt"
    ).read_text() == "maps"


def test_a_build_that_forgets_an_output_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="did not write"):
        Cache(tmp_path).ensure(
            "fine", "k", lambda art, rep: _build_into(art, "scam_coarse", "x"), outs=OUTS["fine"]
        )
    assert Cache(tmp_path).get("fine", "k") is None


def test_the_trial_graph_is_dvc_yaml(repo_root):
    """Stages, params and deps come from dvc.yaml (DVC's own templating): nothing restated."""
    from avsal.tuning.graph import load_graph

    g = load_graph(repo_root)
    order = [n.name for n in g.upstream(["train_sta@sta"])]
    assert order[0] == "validate_raw" and order[-1] == "train_sta@sta"
    assert "validate_pseudo" in order  # trials train STA only on suite-checked pseudo-GT
    assert order.index("validate_pseudo") < order.index("train_sta@sta")
    assert not any(
        n.startswith(("predict@", "evaluate", "method_maps", "train_sta@sta_noswitch"))
        for n in order
    )
    fine = g.nodes["train_cls@fine-s"]
    assert ("artifacts", "pseudo/coarse/boxes.npy") in fine.deps and (
        "",
        "pipelines/train_cls.py",
    ) in fine.deps
    assert "fine" in fine.params and "scam" not in fine.params
    assert [p.name for p in g.producers("artifacts", "pseudo/coarse/boxes.npy")] == ["scam@coarse"]
    assert {p.name for p in g.producers("artifacts", "models/coarse")} == {
        f"train_cls@coarse-{n}" for n in ("s", "st", "sa", "sta_cls")
    }
    assert fine.argv == ("--stage", "fine", "--net", "s")


def test_trial_keys_follow_the_declared_params_and_deps(repo_root, cfg, tmp_path):
    """A param a stage declares changes its key; one it does not declare leaves it."""
    import dataclasses

    from avsal.config import with_overrides
    from avsal.tuning.trial import TrialPipeline

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.txt").write_text("a raw file")
    cfg = dataclasses.replace(
        cfg,
        paths=dataclasses.replace(
            cfg.paths, artifacts=str(tmp_path / "a"), data=str(tmp_path / "data")
        ),
    )
    pipe = TrialPipeline(cfg, project=repo_root)
    node = pipe.graph.nodes["validate_raw"]
    base, inputs = pipe.key(cfg, node, {})
    assert inputs["params"]["validation"] == dataclasses.asdict(cfg.validation)
    assert (
        base == pipe.key(with_overrides(cfg, {"scam.lam": 0.5, "sta.train.lr": 0.01}), node, {})[0]
    )
    assert base != pipe.key(with_overrides(cfg, {"validation.min_fps": 5.0}), node, {})[0]
    assert (
        "src/avsal/validation" in inputs["deps"] and "pipelines/validate_raw.py" in inputs["deps"]
    )
    (tmp_path / "data" / "raw.txt").write_text("another raw file")
    assert (
        base != TrialPipeline(cfg, project=repo_root).key(cfg, node, {})[0]
    )  # the data's content is a dep
