"""The paper profile from validate_raw to report, reduced, in a sandbox on the scale world.

The paper's nets (VGG16, random init), batches and SGD, 28 categories, AVE's mixed clip sizes
and rates and 720p/576p fixation videos; reduced to 4 s clips, one cached frame per clip, one
epoch and small inputs (64 px coarse, 96 px fine/STA on a 112 px cache, so the crop boxes of
the coarse stage are applied at another size than they were computed at).  `make paper-smoke`
runs the same at the paper's 256/356 px on a 360 px cache.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    """`avsal sandbox` (what `make paper-smoke` runs), with the reductions above as -S."""
    cmd = [sys.executable, "-m", "avsal.cli", "sandbox"]
    for profile in PROFILES:
        cmd += ["--profile", profile]
    for key, value in REDUCED.items():
        cmd += ["-S", f"{key}={json.dumps(value)}"]
    report = tmp_path / "paper.json"
    cmd += ["--out", str(tmp_path / "paper"), "--report", str(report)]
    res = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=3000)
    assert res.returncode == 0, res.stderr[-4000:]
    result = json.loads(report.read_text())
    root = Path(result["sandbox"])
    assert result["world"]["clips"] == 28 * 2 + 2
    for rel in ("reports/report.md", "reports/metrics.json", "reports/claims.json"):
        assert (root / rel).is_file(), rel
    stages = result["stages"]
    assert {"validate_raw", "prepare", "train_cls@fine-st", "train_sta@sta", "report"} <= set(
        stages
    ), sorted(stages)
    assert all(s["anon_mib"] > 0 for s in stages.values())
    manifest = json.loads((root / "data" / "SYNTH_MANIFEST.json").read_text())
    assert len({tuple(e["format"]) for e in manifest["ave"].values()}) == 3  # AVE's formats
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["model"]["backbone"] == "vgg16" and params["fine"]["train"]["optimizer"] == "sgd"
    assert params["fine"]["train"]["batch_size"] == 3  # the paper's
    metrics = json.loads((root / "reports" / "metrics.json").read_text())
    assert "stanet" in metrics["mean"]
