"""The content-addressed cache: one build per key across processes, atomic entries, resumable
partial builds, and keys that ignore what a stage does not read."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from pathlib import Path

import pytest

from avsal.tuning.cache import GROUPS, Cache, digest, overlay


def _build_into(art: Path, group: str, text: str) -> None:
    for rel in GROUPS[group]:
        (art / rel).mkdir(parents=True, exist_ok=True)
        (art / rel / "out.txt").write_text(text)


def _racer(root: str, counter: str, barrier) -> str:
    import time

    def build(art: Path, rep: Path) -> dict:
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        _build_into(art, "coarse", "nets")
        return {"by": os.getpid()}

    barrier.wait()
    e = Cache(root).ensure("coarse", "k1", build)
    return (e.artifacts / "models/coarse/out.txt").read_text()


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
        cache.ensure("sta", "k", dies)
    assert cache.get("sta", "k") is None

    seen = {}

    def resumes(art: Path, rep: Path) -> dict:
        seen["checkpoint"] = (art / "checkpoints" / "epoch1").read_text()
        _build_into(art, "sta", "weights")
        return {}

    e = cache.ensure("sta", "k", resumes)
    assert seen["checkpoint"] == "state" and not e.hit
    assert not (e.artifacts / "checkpoints").exists()  # checkpoints are not part of the entry
    assert cache.ensure("sta", "k", resumes).hit


def test_entries_hold_only_their_own_outputs_and_overlays_link_them(tmp_path):
    cache = Cache(tmp_path / "c")
    up = cache.ensure("coarse", "a", lambda art, rep: _build_into(art, "coarse", "coarse nets"))

    def build_scam(art: Path, rep: Path) -> dict:
        assert (art / "models/coarse/out.txt").read_text() == "coarse nets"  # upstream, via a link
        _build_into(art, "scam_coarse", "maps")
        return {}

    e = cache.ensure("scam_coarse", "b", build_scam, upstream=[up])
    files = sorted(str(p.relative_to(e.root)) for p in e.root.rglob("*"))
    assert not any(p.is_symlink() for p in e.root.rglob("*"))
    assert "artifacts/pseudo/coarse/out.txt" in files and not any("models" in f for f in files)
    ws = tmp_path / "trial" / "artifacts"
    overlay(ws, [up, e])
    assert (ws / "models/coarse").is_symlink() and (ws / "pseudo/coarse/out.txt").read_text() == "maps"


def test_a_build_that_forgets_an_output_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="did not write"):
        Cache(tmp_path).ensure("fine", "k", lambda art, rep: _build_into(art, "scam_fine", "x"))
    assert Cache(tmp_path).get("fine", "k") is None


def test_scam_keys_ignore_what_the_stage_does_not_read(cfg):
    import dataclasses

    from avsal.tuning.pipeline import _scam_key

    off = dataclasses.replace(cfg, scam=dataclasses.replace(cfg.scam, temporal_postprocess=False, post_mult=1.0))
    off2 = dataclasses.replace(off, scam=dataclasses.replace(off.scam, post_mult=4.0, post_window=7))
    assert digest(_scam_key(off, "coarse")) == digest(_scam_key(off2, "coarse"))  # post-processing off
    on = dataclasses.replace(off, scam=dataclasses.replace(off.scam, temporal_postprocess=True))
    on2 = dataclasses.replace(on, scam=dataclasses.replace(on.scam, post_mult=4.0))
    assert digest(_scam_key(on, "coarse")) != digest(_scam_key(on2, "coarse"))
    k3 = dataclasses.replace(off, scam=dataclasses.replace(off.scam, crop_k=3.0))
    assert digest(_scam_key(off, "fine")) == digest(_scam_key(k3, "fine"))  # fine SCAM makes no boxes
    assert digest(_scam_key(off, "coarse")) != digest(_scam_key(k3, "coarse"))
