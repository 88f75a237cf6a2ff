"""The paper profile from validate_raw to report, reduced, in a sandbox on the scale world.

The paper's nets (VGG16, random init), batches and SGD, 28 categories, AVE's mixed clip sizes
and rates and 720p/576p fixation videos; reduced to 4 s clips, one cached frame per clip, one
epoch and small inputs (64 px coarse, 96 px fine/STA on a 112 px cache, so the crop boxes of
the coarse stage are applied at another size than they were computed at).  `make paper-smoke`
runs the same at the paper's 256/356 px on a 360 px cache.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

PROFILES = ("profiles/paper.yaml", "profiles/scale.yaml", "profiles/paper_smoke.yaml")
REDUCED = {
    "synth.clip_seconds": 4,
    "prepare.fps": 0.5,
    "prepare.size": [112, 112],
    "coarse.input_size": [64, 64],
    "fine.input_size": [96, 96],
    "sta.input_size": [96, 96],
}


def test_paper_profile_runs_end_to_end_on_the_scale_world(tmp_path, repo_root):
    from avsal.experiments.sandbox import create_sandbox

    sandbox, world = create_sandbox(
        repo_root, tmp_path / "paper", profiles=PROFILES, overrides=REDUCED
    )
    assert world["clips"] == 28 * 2 + 2
    run = sandbox.repro(timeout=3000)
    root = sandbox.root
    for rel in ("reports/report.md", "reports/metrics.json", "reports/claims.json"):
        assert (root / rel).is_file(), rel
    stages = run["stages"]
    assert {"validate_raw", "prepare", "train_cls@fine-st", "train_sta@sta", "report"} <= set(
        stages
    ), sorted(stages)
    assert all(s["anon_mib"] > 0 for s in stages.values())
    manifest = json.loads((root / "data" / "SYNTH_MANIFEST.json").read_text())
    assert len({tuple(e["format"]) for e in manifest["ave"].values()}) == 3  # AVE's formats
    prepared = json.loads((root / "artifacts" / "prepared" / "ave" / "index.json").read_text())
    assert len(prepared["clips"]) == world["clips"]
    params = (root / "params.yaml").read_text()
    assert "backbone: vgg16" in params and "optimizer: sgd" in params
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert set(metrics["mean"]) >= {"stanet"}
