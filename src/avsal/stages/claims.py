"""Stage claims: every ordering the paper claims, as a paired difference with its interval.

Reads the per-frame score tables of the evaluate and ablations stages (the same frames for
both arms of a claim), the synthetic world's manifest when there is one (the audio switch's
stratum: videos whose audio is off-tag), and writes ``reports/claims.json`` (verdicts, intervals,
headline counts) and ``reports/claim_videos.csv`` (this run's per-video evidence). Replicate
runs of other seeds (``avsal replicates``: DVC experiments) leave theirs in
``reports/replicate_videos.csv``; those with this run's params but the seed are folded in, and
the intervals then resample seeds too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from avsal.config import Config
from avsal.experiments.replicates import read_replicates
from avsal.stages.artifacts import Paths
from avsal.stats.claims import (
    RECORD_COLUMNS,
    audio_strata,
    claim_records,
    claim_table,
    fusion_strata,
    headline,
)
from avsal.utils.io import atomic_write_bytes, write_result_json

__all__ = ["run", "SOURCES"]

#: the per-frame tables a claim can compare arms from (stage name = table name)
SOURCES = ("evaluate", "ablations")


def _tables(paths: Paths) -> dict[str, pd.DataFrame]:
    out = {}
    for name in SOURCES:
        path = paths.eval_frames(name)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: missing; run the {name} stage first (dvc repro {name})"
            )
        out[name] = pd.read_csv(path)
    return out


def _frame_strata(cfg: Config, paths: Paths) -> dict[str, pd.DataFrame]:
    """mechanism -> (dataset, video, frame, stratum): where the three nets disagree on top-1."""
    from avsal.data.datasets import MapStore  # torch: only when the maps are there

    tables: dict[str, list[pd.DataFrame]] = {"fusion_coarse": [], "fusion_fine": []}
    for set_name in cfg.datasets.fixation_sets:
        folder = paths.method_maps(set_name)
        if not (folder / "refs.json").is_file():
            continue
        store = MapStore.load(folder)
        refs = pd.DataFrame(store.refs, columns=["video", "frame"]).assign(dataset=set_name)
        for mech, key in (("fusion_coarse", "top1_coarse"), ("fusion_fine", "top1_fine")):
            if key in (store.extra or {}):
                tables[mech].append(refs.assign(stratum=fusion_strata(store.extra[key])))
    return {m: pd.concat(t, ignore_index=True) for m, t in tables.items() if t}


def run(cfg: Config) -> dict[str, Any]:
    """Decide every claim; returns the headline counts and the verdict of each claim x metric."""
    paths, c = Paths(cfg), cfg.claims
    manifest = Path(cfg.paths.data) / "SYNTH_MANIFEST.json"
    strata = audio_strata(json.loads(manifest.read_text())) if manifest.is_file() else None
    frame_strata = _frame_strata(cfg, paths)
    own = claim_records(
        _tables(paths),
        seed=cfg.project.seed,
        metrics=c.metrics,
        video_strata=strata,
        frame_strata=frame_strata,
    )
    replicates, found = read_replicates(paths.report("replicate_videos.csv"), cfg)
    records = pd.concat([own, replicates[RECORD_COLUMNS]], ignore_index=True)
    rows = claim_table(
        records,
        metrics=c.metrics,
        resamples=c.resamples,
        level=c.level,
        seed=c.seed,
        min_videos=c.min_videos,
    )
    counts = headline(rows)
    seeds = sorted(int(s) for s in records["seed"].unique())
    result = {
        "headline": counts,
        "level": c.level,
        "resamples": c.resamples,
        "seeds": seeds,
        "intervals_over": "videos and seeds" if len(seeds) > 1 else "videos (one seed)",
        "split": f"test list of fold {cfg.evaluate.fold} (the reporting split)",
        "strata": {
            "audio": "SYNTH_MANIFEST.json (off-tag audio)" if strata is not None else None,
            "fusion": "method maps' top-1 classes" if frame_strata else None,
        },
        "replicates": {
            **found,
            "experiments": sorted(replicates["experiment"].unique().tolist()),
        },
        "claims": rows,
    }
    write_result_json(paths.report("claims.json"), result)
    csv = own.sort_values(["claim", "metric", "stratum", "seed", "dataset", "video"]).to_csv(
        index=False, float_format="%.6g"
    )
    atomic_write_bytes(paths.report("claim_videos.csv"), csv.encode())
    return {"headline": counts, **{f"{r['claim']}/{r['metric']}": r["verdict"] for r in rows}}
