"""Shared fixtures: the repo, the real samples in ../shared/data, and a tiny synthetic world."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real samples not found at {SHARED_DATA} (expected ../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cfg():
    from avsal.config import load_config

    return load_config(REPO / "params.yaml")


def tiny_synth(cfg):
    """A world small enough for unit tests (seconds to generate)."""
    from avsal.config import FixationSetSynth

    spec = dict(videos=2, frames=8, fps=8.0, width=64, height=48, observers=6, p_sounding=0.7, p_distractor=0.1,
                centre_bias=0.1, persistence=0.8, unseen_categories=False, folds=2)
    sets = {name: FixationSetSynth(**spec) for name in ("AVAD", "DIEM", "Coutrot2")}
    sets["DIEM"] = dataclasses.replace(sets["DIEM"], folds=1, videos=3)
    sets["Coutrot2"] = dataclasses.replace(sets["Coutrot2"], unseen_categories=True)
    return dataclasses.replace(
        cfg.synth,
        categories=cfg.synth.categories[:3],
        clips_per_category=3,
        two_label_clips=1,
        clip_seconds=2,
        fps=8.0,
        width=64,
        height=48,
        off_tag_audio_fraction=0.34,
        fixation_sets=sets,
    )


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory, cfg):
    """(SynthConfig, root) of a tiny world generated once per session (read-only for tests)."""
    from avsal.data.synth import generate_world

    scfg = tiny_synth(cfg)
    root = tmp_path_factory.mktemp("world") / "data"
    generate_world(scfg, root)
    return scfg, root


@pytest.fixture
def tiny_world_copy(tiny_world, tmp_path):
    """A private copy of the tiny world that a test may corrupt."""
    import shutil

    scfg, root = tiny_world
    dst = tmp_path / "data"
    shutil.copytree(root, dst)
    return scfg, dst
