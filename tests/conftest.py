"""Shared fixtures: the repo, the real samples in references/samples, and a tiny synthetic world."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
# the stages' portable CPU kernels (avsal.utils.numerics) for in-process tests too: set before torch runs
from avsal.utils.numerics import PORTABLE_ENV, portable_inductor_cache  # noqa: E402  (torch-free)

os.environ.update(PORTABLE_ENV)
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", portable_inductor_cache())

REPO = Path(__file__).resolve().parents[1]
REAL_SAMPLES = (
    REPO / "references" / "samples"
)  # copied into the repo; origin and licence in its README


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
def real_samples() -> Path:
    if not REAL_SAMPLES.is_dir():
        pytest.fail(f"real samples not found at {REAL_SAMPLES} (they are part of the repository)")
    return REAL_SAMPLES


@pytest.fixture(scope="session")
def cfg():
    from avsal.config import load_config

    return load_config(REPO / "params.yaml")


def tiny_synth(cfg):
    """A world small enough for unit tests (seconds to generate)."""
    from avsal.config import FixationSetSynth

    spec = dict(
        videos=2,
        frames=8,
        fps=8.0,
        width=64,
        height=48,
        observers=6,
        p_sounding=0.7,
        p_distractor=0.1,
        centre_bias=0.1,
        persistence=0.8,
        unseen_categories=False,
        folds=2,
    )
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
