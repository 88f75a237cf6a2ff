"""Stage claims on hand-made per-frame tables: files written, verdicts, strata, one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from avsal.config import load_config
from avsal.stats.claims import RECORD_COLUMNS


def _cfg(tmp, repo_root):
    return load_config(
        repo_root / "params.yaml",
        overrides={
            "paths.artifacts": str(tmp / "artifacts"),
            "paths.reports": str(tmp / "reports"),
            "paths.data": str(tmp / "data"),
        },
    )


def _write_tables(tmp, *, sta_gain: float) -> None:
    rows_e, rows_a = [], []
    for v in range(4):
        video = f"AVAD_v{v + 1:02d}"
        for k in range(1, 4):  # three frames; STA beats centre bias by sta_gain (+ a video offset)
            rows_e.append(("STANet (ours)", "AVAD", video, k, "cc", 0.3 + sta_gain + 0.01 * v))
            rows_e.append(("centre bias", "AVAD", video, k, "cc", 0.3))
            gain = 0.2 if v < 2 else 0.0  # the switch helps on the two off-tag videos only
            rows_a.append(("STA with audio switch", "AVAD", video, k, "cc", 0.4 + gain))
            rows_a.append(("STA w/o audio switch", "AVAD", video, k, "cc", 0.4))
    cols = ["method", "dataset", "video", "frame", "metric", "value"]
    (tmp / "artifacts" / "eval").mkdir(parents=True)
    pd.DataFrame(rows_e, columns=cols).to_csv(
        tmp / "artifacts/eval/evaluate_frames.csv", index=False
    )
    pd.DataFrame(rows_a, columns=cols).to_csv(
        tmp / "artifacts/eval/ablations_frames.csv", index=False
    )
    manifest = {
        "fixations": {
            "AVAD": {
                f"AVAD_v{v + 1:02d}": {"off_tag_audio": "Bark" if v < 2 else None} for v in range(4)
            }
        }
    }
    (tmp / "data").mkdir()
    (tmp / "data" / "SYNTH_MANIFEST.json").write_text(json.dumps(manifest))


def test_the_stage_writes_verdicts_and_the_per_video_evidence(tmp_path, repo_root):
    from avsal.stages.claims import run

    _write_tables(tmp_path, sta_gain=0.2)
    cfg = _cfg(tmp_path, repo_root)
    out = run(cfg)
    assert out["sta_gt_centre_bias/cc"] == "holds"
    claims = json.loads((tmp_path / "reports" / "claims.json").read_text())
    row = next(
        r for r in claims["claims"] if r["claim"] == "sta_gt_centre_bias" and r["metric"] == "cc"
    )
    assert row["pooled"]["diff"] == pytest.approx(0.2 + 0.015, abs=1e-4)  # mean of 0.2 + 0.01 v
    assert row["pooled"]["n_videos"] == 4 and claims["seeds"] == [0]
    switch = next(
        r for r in claims["claims"] if r["claim"] == "switch_gt_noswitch" and r["metric"] == "cc"
    )
    assert switch["strata"]["off-tag audio"]["diff"] == pytest.approx(0.2, abs=1e-4)
    assert switch["strata"]["on-tag audio"]["diff"] == pytest.approx(0.0, abs=1e-6)
    videos = pd.read_csv(tmp_path / "reports" / "claim_videos.csv", keep_default_na=False)
    assert set(videos["stratum"]) == {"", "off-tag audio", "on-tag audio"}
    assert list(videos.columns) == RECORD_COLUMNS
    assert (videos[videos["claim"] == "sta_gt_centre_bias"]["n_frames"] == 3).all()
    assert claims["replicates"]["found"] is False and claims["seeds"] == [0]
    # the same inputs give the same bytes
    first = (tmp_path / "reports" / "claims.json").read_bytes()
    run(cfg)
    assert (tmp_path / "reports" / "claims.json").read_bytes() == first


def test_a_missing_frame_table_names_the_file_and_the_stage(tmp_path, repo_root):
    from avsal.stages.claims import run

    with pytest.raises(
        FileNotFoundError, match=r"evaluate_frames.csv: missing; run the evaluate stage"
    ):
        run(_cfg(tmp_path, repo_root))


def test_replicates_of_the_same_params_are_folded_in_and_others_are_not(tmp_path, repo_root):
    from avsal.experiments import params_key
    from avsal.stages.claims import run

    _write_tables(tmp_path, sta_gain=0.2)
    cfg = _cfg(tmp_path, repo_root)
    run(cfg)
    own = pd.read_csv(tmp_path / "reports" / "claim_videos.csv", keep_default_na=False)
    other = own.assign(
        seed=1, diff=own["diff"] - 0.05, experiment="seed-1", params_key=params_key(cfg)
    )
    stale = own.assign(seed=2, experiment="seed-2", params_key="another-params")
    pd.concat([other, stale]).to_csv(tmp_path / "reports" / "replicate_videos.csv", index=False)
    run(cfg)
    claims = json.loads((tmp_path / "reports" / "claims.json").read_text())
    assert claims["seeds"] == [0, 1] and claims["intervals_over"] == "videos and seeds"
    assert claims["replicates"]["experiments"] == ["seed-1"]
    assert claims["replicates"]["stale_seeds"] == [2]
    row = next(
        r for r in claims["claims"] if r["claim"] == "sta_gt_centre_bias" and r["metric"] == "cc"
    )
    assert row["pooled"]["n_seeds"] == 2
    assert row["pooled"]["diff"] == pytest.approx(0.215 - 0.025, abs=1e-4)  # mean of both seeds
