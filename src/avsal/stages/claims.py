"""Stage claims: every ordering the paper claims, as a paired difference with its interval.

Reads the per-frame score tables of the evaluate and ablations stages (the same frames for
both arms of a claim), the synthetic world's manifest when there is one (the audio switch's
stratum: videos whose audio is off-tag), and writes ``reports/claims.json`` (verdicts, intervals,
headline counts) and ``reports/claim_videos.csv`` (the per-video evidence, so another run of
another seed can be folded in by the same code).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from avsal.config import Config
from avsal.stages.artifacts import Paths
from avsal.stats.claims import audio_strata, claim_records, claim_table, headline
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


def run(cfg: Config) -> dict[str, Any]:
    """Decide every claim; returns the headline counts and the verdict of each claim x metric."""
    paths, c = Paths(cfg), cfg.claims
    records = claim_records(_tables(paths), seed=cfg.project.seed, metrics=c.metrics)
    manifest = Path(cfg.paths.data) / "SYNTH_MANIFEST.json"
    strata = audio_strata(json.loads(manifest.read_text())) if manifest.is_file() else None
    rows = claim_table(
        records,
        metrics=c.metrics,
        resamples=c.resamples,
        level=c.level,
        seed=c.seed,
        min_videos=c.min_videos,
        strata=strata,
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
        "strata": "SYNTH_MANIFEST.json (off-tag audio)" if strata is not None else None,
        "claims": rows,
    }
    write_result_json(paths.report("claims.json"), result)
    csv = records.sort_values(["claim", "metric", "seed", "dataset", "video"]).to_csv(
        index=False, float_format="%.6g"
    )
    atomic_write_bytes(paths.report("claim_videos.csv"), csv.encode())
    return {"headline": counts, **{f"{r['claim']}/{r['metric']}": r["verdict"] for r in rows}}
