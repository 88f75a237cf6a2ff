"""The statistics that decide the claims: golden values by hand, behaviour by seeded simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avsal.stats.bootstrap import Interval, paired_interval, verdict
from avsal.stats.claims import (
    ALL,
    audio_strata,
    claim_records,
    claim_table,
    fusion_strata,
    video_differences,
)

OPTS = {"resamples": 2000, "level": 0.95, "seed": 0}


def test_a_constant_difference_gives_a_zero_width_interval():
    iv = paired_interval([np.full((1, 5), 0.1), np.full((1, 3), 0.1)], **OPTS)
    assert iv.diff == pytest.approx(0.1) and iv.lo == iv.hi == iv.diff
    assert (iv.n_videos, iv.n_seeds, iv.n_sets) == (8, 1, 2)
    assert verdict(iv, min_videos=2) == "holds"


def test_identical_arms_are_undecided():
    iv = paired_interval([np.zeros((1, 6))], **OPTS)
    assert (iv.lo, iv.hi) == (0.0, 0.0)
    assert verdict(iv, min_videos=2) == "undecided"


def test_the_statistic_is_the_unweighted_mean_over_sets():
    # set 1: videos 0.1, 0.3 (mean 0.2); set 2: one video 0.5 -> (0.2 + 0.5) / 2 = 0.35
    iv = paired_interval([np.array([[0.1, 0.3]]), np.array([[0.5]])], **OPTS)
    assert iv.diff == pytest.approx(0.35)
    assert 0.1 / 2 + 0.5 / 2 - 1e-12 <= iv.lo <= iv.hi <= 0.3 / 2 + 0.5 / 2 + 1e-12


def test_too_few_videos_is_undecided_whatever_the_interval():
    iv = Interval(diff=0.2, lo=0.2, hi=0.2, n_videos=2, n_seeds=1, n_sets=1)
    assert verdict(iv, min_videos=3) == "undecided"
    assert verdict(Interval(-0.2, -0.3, -0.1, 4, 1, 2), min_videos=3) == "fails"


def test_the_interval_covers_a_known_difference_at_about_the_nominal_rate():
    rng = np.random.default_rng(1)
    true, covered, runs = 0.05, 0, 300
    for r in range(runs):
        sets = [true + rng.normal(0, 0.1, size=(1, 10)) for _ in range(4)]
        iv = paired_interval(sets, resamples=1000, level=0.95, seed=r)
        covered += iv.lo <= true <= iv.hi
    # percentile bootstrap with 10 videos per set undercovers a little; 300 runs: sd ~1.3%
    assert 0.88 <= covered / runs <= 0.99, covered / runs


def test_the_seed_level_widens_the_interval_when_seeds_disagree():
    rng = np.random.default_rng(2)
    videos = rng.normal(0.05, 0.05, size=(1, 8))  # the same videos in every seed
    calm = [np.repeat(videos, 4, axis=0)]  # four seeds that agree
    seed_effect = rng.normal(0, 0.08, size=(4, 1))
    noisy = [np.repeat(videos, 4, axis=0) + seed_effect]
    w_calm = paired_interval(calm, **OPTS)
    w_noisy = paired_interval(noisy, **OPTS)
    assert (w_noisy.hi - w_noisy.lo) > 1.5 * (w_calm.hi - w_calm.lo)
    assert w_noisy.n_seeds == 4


def test_same_seed_same_interval_and_bad_input_is_refused():
    d = [np.random.default_rng(3).normal(size=(2, 5))]
    assert paired_interval(d, **OPTS) == paired_interval(d, **OPTS)
    with pytest.raises(ValueError, match="finite"):
        paired_interval([np.array([[0.1, np.nan]])], **OPTS)
    with pytest.raises(ValueError, match="n_seeds"):
        paired_interval([np.zeros((2, 3)), np.zeros((1, 3))], **OPTS)


def _frames(rows):
    return pd.DataFrame(rows, columns=["method", "dataset", "video", "frame", "metric", "value"])


def test_video_differences_pair_frames_and_drop_those_an_arm_lacks():
    f = _frames(
        [
            ("A", "S", "v1", 1, "cc", 0.5), ("B", "S", "v1", 1, "cc", 0.2),
            ("A", "S", "v1", 2, "cc", 0.7), ("B", "S", "v1", 2, "cc", np.nan),
            ("A", "S", "v1", 3, "cc", 0.1), ("B", "S", "v1", 3, "cc", 0.3),
            ("A", "S", "v2", 1, "cc", 0.4), ("B", "S", "v2", 1, "cc", 0.4),
            ("A", "S", "v2", 1, "nss", 9.0),
        ]
    )  # fmt: skip
    d = video_differences(f, "A", "B", "cc")
    assert d["video"].tolist() == ["v1", "v2"]
    # v1: frames 1 and 3 only: ((0.5-0.2) + (0.1-0.3)) / 2 = 0.05
    assert d["diff"].tolist() == pytest.approx([0.05, 0.0])
    assert d["n_frames"].tolist() == [2, 1]
    assert video_differences(f, "A", "missing", "cc").empty


def test_strata_come_from_the_manifest_and_split_the_audio_claim():
    manifest = {
        "fixations": {
            "AVAD": {
                "v1": {"off_tag_audio": "Bark"},
                "v2": {"off_tag_audio": None},
                "v3": {"off_tag_audio": "Goat"},
                "v4": {"off_tag_audio": None},
            }
        }
    }
    strata = audio_strata(manifest)
    assert strata[("AVAD", "v1")] == "off-tag audio" and strata[("AVAD", "v2")] == "on-tag audio"
    rows = []
    for v, gain in (("v1", 0.2), ("v2", 0.0), ("v3", 0.3), ("v4", 0.0)):
        for k in range(3):
            rows.append(("STA with audio switch", "AVAD", v, k, "cc", 0.5 + gain))
            rows.append(("STA w/o audio switch", "AVAD", v, k, "cc", 0.5))
    records = claim_records(
        {"ablations": _frames(rows)}, seed=0, metrics=("cc",), video_strata=strata
    )
    table = claim_table(records, metrics=("cc",), min_videos=2, **OPTS)
    row = next(r for r in table if r["claim"] == "switch_gt_noswitch")
    assert row["strata"]["off-tag audio"]["diff"] == pytest.approx(0.25)
    assert row["strata"]["off-tag audio"]["verdict"] == "holds"
    assert row["strata"]["on-tag audio"]["verdict"] == "undecided"  # identical arms there
    assert row["pooled"]["n_videos"] == 4
    missing = next(r for r in table if r["claim"] == "sta_gt_centre_bias")
    assert missing["verdict"] == "undecided" and "no scores" in missing["missing"]


def test_fusion_strata_split_frames_where_the_nets_disagree():
    top1 = np.array([[2, 2, 2], [2, 1, 2], [0, 0, 0], [3, 1, 0]])
    assert [s.split()[1] for s in fusion_strata(top1)] == ["agree", "disagree", "agree", "disagree"]
    # selective beats average only on the disagreeing frames: the stratum shows it, "agree" ties
    rows, strata = [], []
    for v in ("v1", "v2", "v3"):
        for k in range(4):
            gain = 0.1 if k % 2 else 0.0
            rows.append(("SCAM_sel coarse", "AVAD", v, k, "cc", 0.4 + gain))
            rows.append(("SCAM_avg coarse", "AVAD", v, k, "cc", 0.4))
            strata.append(("AVAD", v, k, fusion_strata(top1[k : k + 1])[0]))
    table = pd.DataFrame(strata, columns=["dataset", "video", "frame", "stratum"])
    records = claim_records(
        {"ablations": _frames(rows)}, seed=0, metrics=("cc",), frame_strata={"fusion_coarse": table}
    )
    row = next(r for r in claim_table(records, metrics=("cc",), min_videos=3, **OPTS)
               if r["claim"] == "sel_gt_avg_coarse")  # fmt: skip
    assert row["pooled"]["diff"] == pytest.approx(0.05)  # diluted over all frames
    assert row["strata"]["nets disagree on the top-1 class"]["diff"] == pytest.approx(0.1)
    assert row["strata"]["nets disagree on the top-1 class"]["verdict"] == "holds"
    assert row["strata"]["nets agree on the top-1 class"]["diff"] == pytest.approx(0.0)


def test_a_stratum_that_one_seed_saw_in_fewer_sets_uses_the_seeds_that_saw_them_all():
    """Strata follow each seed's trained nets: seed 1 may have no disagreeing frame in DIEM
    where seed 0 has some.  The stratum then rests on the seeds present in every set (here 0),
    instead of failing on matrices with different seed counts."""
    rows = []
    for seed, sets in ((0, ("AVAD", "DIEM")), (1, ("AVAD",))):
        for ds in sets:
            for v in ("v1", "v2", "v3"):
                rows.append((ds, v, 0.1 + 0.01 * seed, seed, "s"))
    rec = pd.DataFrame(rows, columns=["dataset", "video", "diff", "seed", "stratum"])
    records = rec.assign(claim="sel_gt_avg_coarse", metric="cc", n_frames=1)
    records = pd.concat([records, records.assign(stratum=ALL)], ignore_index=True)
    out = claim_table(records, metrics=("cc",), min_videos=3, **OPTS)
    row = next(r for r in out if r["claim"] == "sel_gt_avg_coarse")
    assert row["strata"]["s"]["diff"] == pytest.approx(0.1)  # seed 0 only
    assert row["strata"]["s"]["verdict"] == "holds"
