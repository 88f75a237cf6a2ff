"""``avsal score MAPS_DIR``: any method's maps scored with the exact protocol of ``evaluate``.

The scoring itself is :func:`avsal.stages.evaluate.score_videos`, the one path of the evaluate
and ablations stages and of tuning trials, so the pipeline's own prediction folder scored here
gives ``reports/evaluate.json``'s numbers. What this adds: reading other people's layouts
(:mod:`avsal.scoring.maps_folder`), choosing the split, dropping and counting NaN maps, and
writing the results beside the paper's published Table 4.

Splits: ``all`` is the STAViS aggregation (the test lists of every fold taken together; DIEM's
one list), ``reporting`` the test side of ``evaluate.fold``, ``tuning`` the side of the fold
``tune.split`` names, ``fold:K`` the test list of fold K.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avsal.config import Config
from avsal.data.fixations import FixationSet
from avsal.metric_names import METRICS
from avsal.scoring.maps_folder import MapsFolder

__all__ = ["select_videos", "score_maps"]


def select_videos(cfg: Config, fixation_set: FixationSet, split: str) -> list[str]:
    """The videos of ``split`` (see the module doc) in fold-list order, each once."""
    folds = fixation_set.folds()
    if split == "all":
        videos = [e.video for k in folds for e in fixation_set.fold_entries("test", k)]
    elif split == "reporting":
        videos = fixation_set.split_videos("test", fold=cfg.evaluate.fold)
    elif split == "tuning":
        videos = fixation_set.split_videos(cfg.tune.split.side, fold=cfg.tune.split.fold)
    elif split.startswith("fold:") and split[5:].isdigit():
        videos = fixation_set.split_videos("test", fold=int(split[5:]))
    else:
        raise ValueError(f"--split must be all, reporting, tuning or fold:K, got {split!r}")
    return list(dict.fromkeys(videos))


def _published(cfg: Config, sets: list[str]) -> pd.DataFrame:
    from avsal.report.published import METRICS as PUBLISHED
    from avsal.report.published import load_table4

    table = load_table4(Path(cfg.paths.published), sets)
    table = table[table["dataset"].isin(sets)]
    return table.rename(columns={csv: ours for ours, csv, _ in PUBLISHED})


def _markdown(per_set: pd.DataFrame, published: pd.DataFrame, metrics: list[str], name: str) -> str:
    """Per-set means of the scored maps, with the paper's Table 4 rows of the same sets below."""
    shown = [m for m in METRICS if m in metrics]
    lines = [
        f"| method | set | {' | '.join(shown)} | videos |",
        "|" + "---|" * (len(shown) + 3),
    ]
    for set_name, rows in per_set.groupby("dataset", sort=False):
        vals = rows.set_index("metric")
        cells = [f"{vals.loc[m, 'value']:.3f}" if m in vals.index else "" for m in shown]
        lines.append(
            f"| **{name}** | {set_name} | {' | '.join(cells)} | {int(vals['n_videos'].max())} |"
        )
        for _, pub in published[published["dataset"] == set_name].iterrows():
            pcells = [f"{pub[m]:.3f}" if m in pub and pd.notna(pub[m]) else "" for m in shown]
            lines.append(f"| {pub['method']} (paper) | {set_name} | {' | '.join(pcells)} | |")
    return "\n".join(lines) + "\n"


def score_maps(
    cfg: Config,
    maps_dir: str | Path,
    *,
    out: str | Path,
    sets: list[str] | None = None,
    split: str = "all",
    metrics: tuple[str, ...] | None = None,
    pattern: str | None = None,
    allow_missing: bool = False,
    name: str | None = None,
) -> dict[str, Any]:
    """Score every video of ``split`` in each set; write frames.csv, videos.json, sets.json,
    table.md and run.json under ``out`` (all or nothing: written in a temp folder, then moved).

    Every missing map is found before any scoring starts, so a failure costs seconds.
    """
    from tqdm.auto import tqdm

    from avsal.stages.evaluate import GroundTruth, protocol, score_videos

    t0 = time.perf_counter()
    folder = MapsFolder(maps_dir, pattern=pattern)
    root = Path(cfg.paths.fixation_root)
    present = folder.sets()
    wanted = list(sets) if sets else [s for s in cfg.datasets.fixation_sets if s in present]
    absent = [s for s in wanted if s not in present]
    if absent or not wanted:
        raise FileNotFoundError(
            f"{folder.root}: no folder for set(s) {absent or list(cfg.datasets.fixation_sets)} "
            f"(found {present})"
        )
    metrics = tuple(metrics) if metrics else tuple(protocol(cfg).metrics)
    truth = GroundTruth(root)
    name = name or Path(maps_dir).resolve().name

    plan: list[tuple[str, str, int]] = []  # (set, video, frames) to score
    skipped: list[dict[str, Any]] = []
    for set_name in wanted:
        for video in select_videos(cfg, FixationSet(root, set_name), split):
            n, _ = FixationSet(root, set_name).video(video).check()
            plan.append((set_name, video, n))
    loaded: dict[tuple[str, str], int] = {}  # complete videos; their maps are read one by one
    for set_name, video, n in plan:  # fail fast on a gap, before scoring anything
        if not folder.complete(set_name, video, n, allow_missing=allow_missing):
            skipped.append({"set": set_name, "video": video, "reason": "missing maps"})
            continue
        loaded[(set_name, video)] = n
    if not loaded:
        raise FileNotFoundError(f"{folder.root}: no video of split {split!r} has all its maps")

    tables: list[pd.DataFrame] = []
    nan_frames: dict[str, int] = {}
    bar = tqdm(total=len(loaded), desc="score", unit="video", disable=None)
    for (set_name, video), n in loaded.items():
        vm = folder.load(set_name, video, n)
        preds = vm.maps.copy()
        preds[vm.nan_frames] = 0.0  # scored as a constant map, then dropped (NaN) below

        ev = score_videos(
            cfg, truth, set_name, [video], lambda v, n, shape, p=preds: p, metrics=metrics
        )
        frames = ev.frames
        if vm.nan_frames:
            frames.loc[frames["frame"].isin(vm.nan_frames), "value"] = np.nan
            nan_frames[f"{set_name}/{video}"] = len(vm.nan_frames)
        tables.append(frames)
        bar.update()
    bar.close()

    from avsal.metrics.protocol import summarise

    frames = pd.concat(tables, ignore_index=True)
    per_video, per_set = summarise(frames)
    published = _published(cfg, wanted)
    proto = protocol(cfg, metrics)
    record = {
        "maps_dir": str(Path(maps_dir).resolve()),
        "layout": {s: folder.layout(s) for s in wanted},
        "split": split,
        "sets": wanted,
        "metrics": list(metrics),
        "protocol": {
            "blur_sigma": proto.sigma,
            "blur_at": proto.blur_at,
            "s_auc_splits": proto.n_splits,
            "s_auc_step": proto.step,
            "seed": proto.seed,
        },
        "videos_scored": len(loaded),
        "skipped": skipped,
        "nan_frames": nan_frames,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    _write_all(
        Path(out),
        frames,
        per_video,
        per_set,
        _markdown(per_set, published, list(metrics), name),
        record,
    )
    means = {
        d: {m: round(float(v), 4) for m, v in zip(g["metric"], g["value"])}
        for d, g in per_set.groupby("dataset", sort=False)
    }
    return {**record, "results": means, "out": str(out)}


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode()


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records"))


def _write_all(
    out: Path,
    frames: pd.DataFrame,
    per_video: pd.DataFrame,
    per_set: pd.DataFrame,
    table: str,
    record: dict[str, Any],
) -> None:
    """Write into a sibling temp folder, then swap it in: no half-written results folder."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        buf = io.StringIO()
        frames.to_csv(buf, index=False)
        (tmp / "frames.csv").write_text(buf.getvalue())
        (tmp / "videos.json").write_bytes(_json(_records(per_video)))
        (tmp / "sets.json").write_bytes(_json(_records(per_set)))
        (tmp / "table.md").write_text(table)
        (tmp / "run.json").write_bytes(_json(record))
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
