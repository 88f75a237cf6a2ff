"""The paper's claimed orderings as paired comparisons, decided by bootstrap intervals.

Each claim "A > B" compares two arms on the same frames: per video the mean over the frames
both arms scored of ``A - B``, then `bootstrap.paired_interval` over videos (and seeds, when
replicate runs exist). A chain of the paper ("fine SCAM > coarse SCAM > CAM_S") is split into
its adjacent pairs, so each verdict says which link holds.

Evidence is a tidy table of records ``(claim, metric, seed, dataset, video, diff, n_frames)``:
the claims stage computes this run's records from the per-frame score tables, and replicate runs
contribute theirs, so one run and many are folded by the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from avsal.stats.bootstrap import VERDICTS, paired_interval, verdict

__all__ = [
    "Claim",
    "CLAIMS",
    "ALL",
    "RECORD_COLUMNS",
    "audio_strata",
    "fusion_strata",
    "video_differences",
    "claim_records",
    "claim_table",
    "headline",
]

RECORD_COLUMNS = ["claim", "metric", "stratum", "seed", "dataset", "video", "diff", "n_frames"]

#: the stratum of a record over all of a video's frames
ALL = ""


@dataclass(frozen=True)
class Claim:
    key: str
    text: str  # "A > B" as the paper states it
    where: str  # where the paper claims it
    source: str  # the per-frame table holding both arms: "ablations" | "evaluate"
    a: str  # the method claimed better
    b: str
    #: where the mechanism acts, if the claim has one: "audio" (the switch acts only where the
    #: audio is off-tag: video strata), "fusion_coarse" / "fusion_fine" (Eq. 3 changes the
    #: fused map only where the three nets disagree on the top-1 class: frame strata)
    mechanism: str = ""


def _c(key: str, where: str, source: str, a: str, b: str, text: str, mechanism: str = "") -> Claim:
    return Claim(key, text, where, source, a, b, mechanism)


CLAIMS: tuple[Claim, ...] = (
    _c("fine_gt_coarse_scam", "Table 1", "ablations", "SCAM_sel fine", "SCAM_sel coarse",
       "fine SCAM > coarse SCAM"),
    _c("coarse_scam_gt_cam_s", "Table 1", "ablations", "SCAM_sel coarse", "CAM_S",
       "coarse SCAM > CAM_S"),
    _c("sel_gt_avg_coarse", "Table 1", "ablations", "SCAM_sel coarse", "SCAM_avg coarse",
       "selective > average fusion (coarse)", mechanism="fusion_coarse"),
    _c("sel_gt_avg_fine", "Table 1", "ablations", "SCAM_sel fine", "SCAM_avg fine",
       "selective > average fusion (fine)", mechanism="fusion_fine"),
    *(
        _c(f"coarse_scam_gt_{m.lower()}", "Table 2", "ablations", "SCAM_sel coarse", m,
           f"coarse SCAM > {m}")
        for m in ("CAM_ST", "CAM_SA", "CAM_STA")
    ),
    *(
        _c(f"fine_scam_gt_{m.lower()}_fine", "Table 2", "ablations", "SCAM_sel fine", f"{m} fine",
           f"fine SCAM > fine {m}")
        for m in ("CAM_S", "CAM_ST", "CAM_SA")
    ),
    *(
        _c(f"fine_gt_coarse_{m.lower()}", "Table 2", "ablations", f"{m} fine", m,
           f"fine {m} > coarse {m}")
        for m in ("CAM_S", "CAM_ST", "CAM_SA")
    ),
    _c("switch_gt_noswitch", "Table 3", "ablations", "STA with audio switch",
       "STA w/o audio switch", "STA with audio switch > without", mechanism="audio"),
    _c("sta_gt_centre_bias", "Table 4", "evaluate", "STANet (ours)", "centre bias",
       "our STA > centre bias"),
)  # fmt: skip


def video_differences(frames: pd.DataFrame, a: str, b: str, metric: str) -> pd.DataFrame:
    """Per video: mean of ``A - B`` over the frames where both have a finite score.

    ``frames``: the tidy per-frame table (method, dataset, video, frame, metric, value).
    Returns (dataset, video, diff, n_frames), sorted; empty if an arm is missing.
    """
    sub = frames[(frames["metric"] == metric) & frames["method"].isin([a, b])]
    wide = sub.pivot_table(
        index=["dataset", "video", "frame"], columns="method", values="value", aggfunc="first"
    )
    if a not in wide or b not in wide:
        return pd.DataFrame(columns=["dataset", "video", "diff", "n_frames"])
    wide = wide[[a, b]].dropna()
    per = (wide[a] - wide[b]).groupby(level=["dataset", "video"]).agg(["mean", "size"])
    out = per.reset_index().rename(columns={"mean": "diff", "size": "n_frames"})
    return out.sort_values(["dataset", "video"], ignore_index=True)


def claim_records(
    tables: Mapping[str, pd.DataFrame],
    *,
    seed: int,
    metrics: tuple[str, ...],
    video_strata: Mapping[tuple[str, str], str] | None = None,
    frame_strata: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """This run's evidence: one record per (claim, metric, stratum, video).

    Stratum ``ALL`` covers every frame. A claim with a mechanism adds records per stratum:
    ``video_strata`` maps (dataset, video) to a name (the audio claim); ``frame_strata`` maps a
    mechanism ("fusion_coarse", ...) to a table (dataset, video, frame, stratum), and the
    per-video difference is then taken over that stratum's frames only.
    """
    parts = []
    for c in CLAIMS:
        frames = tables.get(c.source)
        if frames is None:
            continue
        for metric in metrics:
            d = video_differences(frames, c.a, c.b, metric)
            parts.append(d.assign(claim=c.key, metric=metric, stratum=ALL, seed=seed))
            if c.mechanism == "audio" and video_strata is not None:
                names = [video_strata.get((ds, v), "") for ds, v in zip(d["dataset"], d["video"])]
                strat = d.assign(claim=c.key, metric=metric, stratum=names, seed=seed)
                parts.append(strat[strat["stratum"] != ""])
            table = (frame_strata or {}).get(c.mechanism)
            if table is not None:
                tagged = frames.merge(table, on=["dataset", "video", "frame"], how="inner")
                for name, sub in sorted(tagged.groupby("stratum")):
                    d = video_differences(sub, c.a, c.b, metric)
                    parts.append(d.assign(claim=c.key, metric=metric, stratum=name, seed=seed))
    if not parts:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    return pd.concat(parts, ignore_index=True)[RECORD_COLUMNS]


def _matrix(rec: pd.DataFrame) -> np.ndarray:
    """[n_seeds, n_videos] of one set, on the videos that every seed scored."""
    wide = rec.pivot_table(index="seed", columns="video", values="diff", aggfunc="first")
    return wide.dropna(axis=1).to_numpy()


def _decide(
    rec: pd.DataFrame, *, resamples: int, level: float, seed: int, min_videos: int
) -> dict[str, Any]:
    # a seed enters only if it scored every set of this record: a stratum (frames where the
    # nets disagree) may hold no frame of a set in one seed's run and some in another's
    by_set = sorted(rec.groupby("dataset"))
    common = set.intersection(*(set(g["seed"]) for _, g in by_set)) if by_set else set()
    mats = [_matrix(g[g["seed"].isin(common)]) for _, g in by_set] if common else []
    iv = paired_interval(mats, resamples=resamples, level=level, seed=seed)
    return {**iv.to_dict(), "verdict": verdict(iv, min_videos=min_videos)}


def claim_table(
    records: pd.DataFrame,
    *,
    metrics: tuple[str, ...],
    resamples: int,
    level: float,
    seed: int,
    min_videos: int,
) -> list[dict[str, Any]]:
    """Every claim x metric: pooled over sets, per set, and per mechanism stratum."""
    opts = {"resamples": resamples, "level": level, "seed": seed, "min_videos": min_videos}
    out = []
    for c in CLAIMS:
        for metric in metrics:
            mine = records[(records["claim"] == c.key) & (records["metric"] == metric)]
            rec = mine[mine["stratum"] == ALL]
            row: dict[str, Any] = {
                "claim": c.key,
                "text": c.text,
                "where": c.where,
                "a": c.a,
                "b": c.b,
                "metric": metric,
                "seeds": sorted(int(s) for s in rec["seed"].unique()),
            }
            if rec.empty:
                row.update(verdict="undecided", missing=f"no scores of both {c.a!r} and {c.b!r}")
                out.append(row)
                continue
            row["pooled"] = _decide(rec, **opts)
            row["verdict"] = row["pooled"]["verdict"]
            row["per_set"] = {str(d): _decide(g, **opts) for d, g in sorted(rec.groupby("dataset"))}
            strata = mine[mine["stratum"] != ALL]
            if not strata.empty:
                row["strata"] = {
                    str(s): _decide(g, **opts) for s, g in sorted(strata.groupby("stratum"))
                }
            out.append(row)
    return out


def headline(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many claim x metric verdicts hold, fail, or are undecided (pooled over sets)."""
    return {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}


def audio_strata(manifest: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(set, video) -> "off-tag audio" | "on-tag audio", from the synthetic world's manifest.

    The audio switch can only help where the soundtrack is not the tagged category's sound;
    elsewhere both STA variants hear the same informative audio.
    """
    out: dict[tuple[str, str], str] = {}
    for set_name, videos in manifest.get("fixations", {}).items():
        for video, facts in videos.items():
            out[(set_name, video)] = (
                "off-tag audio" if facts.get("off_tag_audio") else "on-tag audio"
            )
    return out


def fusion_strata(top1: np.ndarray) -> np.ndarray:
    """Per frame, "nets disagree" / "nets agree" on the top-1 class, from ``top1`` [N, nets]."""
    top1 = np.asarray(top1)
    agree = (top1 == top1[:, :1]).all(axis=1)
    return np.where(agree, "nets agree on the top-1 class", "nets disagree on the top-1 class")
