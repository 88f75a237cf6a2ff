"""Stages evaluate (Table 4) and ablations (Tables 1-3): score maps against human fixations.

Every "method" is a way to get one map per frame of a fixation video: our STA net, the
in-project references (a centre-bias map; the final pseudo-GT method run directly on the test
videos), and the ablation rows (single-source CAMs, average vs selective SCAM, coarse vs fine,
STA with and without the audio switch).  All are scored with the STAViS/MIT protocol of
``avsal.metrics`` on the **reporting split** of each set; the tuning split (Optuna) is the
other side of the same fold and never reported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avsal.config import Config
from avsal.data.datasets import MapStore
from avsal.data.fixations import FixationSet
from avsal.metrics.protocol import ProtocolConfig, VideoInput, evaluate
from avsal.stages.common import Paths, tracker_for
from avsal.utils.io import atomic_write_bytes, write_result_json

__all__ = ["split_videos", "centre_bias", "score", "run", "run_ablations", "TABLE4_METHODS", "ABLATION_METHODS"]

#: method name -> (source, key): source "pred" = STA predictions of a variant, "map" = method maps
TABLE4_METHODS: dict[str, tuple[str, str]] = {
    "STANet (ours)": ("pred", "sta"),
    "centre bias": ("centre", ""),
    "pseudo-GT method": ("map", "scam_sel_fine"),
}
ABLATION_METHODS: dict[str, tuple[str, str]] = {
    "CAM_S": ("map", "cam_s"),
    "CAM_ST": ("map", "cam_st"),
    "CAM_SA": ("map", "cam_sa"),
    "CAM_STA": ("map", "cam_sta"),
    "SCAM_avg coarse": ("map", "scam_avg_coarse"),
    "SCAM_sel coarse": ("map", "scam_sel_coarse"),
    "SCAM_avg fine": ("map", "scam_avg_fine"),
    "SCAM_sel fine": ("map", "scam_sel_fine"),
    "CAM_S fine": ("map", "cam_s_fine"),
    "CAM_ST fine": ("map", "cam_st_fine"),
    "CAM_SA fine": ("map", "cam_sa_fine"),
    "STA w/o audio switch": ("pred", "sta_noswitch"),
    "STA with audio switch": ("pred", "sta"),
}


def split_videos(root: str | Path, set_name: str, *, fold: int, split: str) -> list[str]:
    """Videos of one side of a fold (``test`` = reporting, ``train`` = tuning); DIEM has one split."""
    fs = FixationSet(root, set_name)
    folds = fs.folds()
    k = None if folds == [None] else fold
    if k is not None and k not in folds:
        raise ValueError(f"{set_name}: fold {fold} not in its fold lists {folds}")
    return [e.video for e in fs.fold_entries(split, k)]


def centre_bias(shape: tuple[int, int]) -> np.ndarray:
    """A centred anisotropic Gaussian (sigma = a quarter of each side): the classic baseline."""
    h, w = shape
    y = (np.arange(h) - (h - 1) / 2) / (h / 4)
    x = (np.arange(w) - (w - 1) / 2) / (w / 4)
    return np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2)).astype(np.float32)


def _video_maps(store: MapStore, video: str, n: int, channel: int | None) -> np.ndarray:
    rows = [k for k, (cid, _) in enumerate(store.refs) if cid == video]
    if len(rows) != n:
        raise ValueError(f"{video}: {len(rows)} predicted frames, the set has {n}")
    rows.sort(key=lambda k: store.refs[k][1])
    arr = np.asarray(store.maps[rows], np.float32)
    return arr if channel is None else arr[:, channel]


def _method_loader(cfg: Config, set_name: str, source: str, key: str) -> Callable[[str, int, tuple[int, int]], np.ndarray]:
    from avsal.stages.method_maps import MAP_NAMES

    paths = Paths(cfg)
    if source == "pred":
        store = MapStore.load(paths.predictions(f"{key}/{set_name}"))
        return lambda v, n, shape: _video_maps(store, v, n, None)
    if source == "map":
        store = MapStore.load(paths.art / "method_maps" / set_name)
        ch = MAP_NAMES.index(key)
        return lambda v, n, shape: _video_maps(store, v, n, ch)
    if source == "centre":
        return lambda v, n, shape: np.repeat(centre_bias(shape)[None], n, axis=0)
    raise ValueError(f"unknown method source {source!r}")


def score(cfg: Config, methods: dict[str, tuple[str, str]], *, split: str = "test", sets: list[str] | None = None) -> pd.DataFrame:
    """Tidy per-frame table (method, dataset, video, frame, metric, value) for ``methods``."""
    pconf = ProtocolConfig(sigma=cfg.evaluate.blur_sigma, n_splits=cfg.evaluate.s_auc_splits, step=cfg.evaluate.s_auc_step, seed=cfg.evaluate.seed)
    root = Path(cfg.paths.fixation_root)
    gt_cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    tables = []
    for set_name in sets or list(cfg.datasets.fixation_sets):
        fs = FixationSet(root, set_name)
        videos = split_videos(root, set_name, fold=cfg.evaluate.fold, split=split)
        for method, (source, key) in methods.items():
            load = _method_loader(cfg, set_name, source, key)
            inputs = []
            for v in videos:
                if (set_name, v) not in gt_cache:
                    vid = fs.video(v)
                    n, shape = vid.check()
                    fix = np.stack([vid.fixations(i, shape=shape) for i in range(n)])
                    gt = np.stack([vid.saliency_map(i) for i in range(n)])
                    gt_cache[(set_name, v)] = (fix, gt)
                fix, gt = gt_cache[(set_name, v)]
                inputs.append(VideoInput(name=v, preds=load(v, len(fix), fix.shape[1:]), fix=fix, gt_maps=gt))
            ev = evaluate({set_name: inputs}, pconf, device=None if cfg.runtime.device == "auto" else cfg.runtime.device)
            tables.append(ev.frames.assign(method=method))
    out = pd.concat(tables, ignore_index=True)
    return out[["method", "dataset", "video", "frame", "metric", "value"]]


def summarise(frames: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {dataset: {metric: value}}}: frame mean per video, then unweighted video mean."""
    per_video = frames.dropna(subset=["value"]).groupby(["method", "dataset", "video", "metric"])["value"].mean().reset_index()
    per_set = per_video.groupby(["method", "dataset", "metric"])["value"].mean()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (m, d, k), v in per_set.items():
        out.setdefault(m, {}).setdefault(d, {})[k] = round(float(v), 4)
    return out


def _run(cfg: Config, name: str, methods: dict[str, tuple[str, str]], split: str) -> dict[str, Any]:
    """Score ``methods``, write the tidy table and the summary, log both as an MLflow run.

    The run opens first, so an unreachable tracking store fails the stage before any work.
    """
    paths = Paths(cfg)
    t0 = time.perf_counter()
    with tracker_for(cfg, name, params={"evaluate": cfg.evaluate, "split": split, "methods": methods}) as h:
        frames = score(cfg, methods, split=split)
        summary = summarise(frames)
        atomic_write_bytes(paths.art / "eval" / f"{name}_frames.csv", frames.to_csv(index=False).encode())
        result = {
            "split": split,
            "fold": cfg.evaluate.fold,
            "protocol": {"blur_sigma": cfg.evaluate.blur_sigma, "s_auc_splits": cfg.evaluate.s_auc_splits, "s_auc_step": cfg.evaluate.s_auc_step},
            "results": summary,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        write_result_json(paths.report(f"{name}.json"), result)
        for method, sets in summary.items():
            for d, ms in sets.items():
                key = f"{method}/{d}".replace(" ", "_").replace("(", "").replace(")", "")
                h.log_metrics({f"{key}/{k}": v for k, v in ms.items()})
        h.log_artifact(str(paths.report(f"{name}.json")))
    return result


def run(cfg: Config, *, split: str = "test") -> dict[str, Any]:
    """Stage evaluate: Table 4 rows of this project on the six sets."""
    return _run(cfg, "evaluate", TABLE4_METHODS, split)


def run_ablations(cfg: Config, *, split: str = "test") -> dict[str, Any]:
    """Stage ablations: Tables 1-3 rows (CAMs, fusion rules, coarse/fine, audio switch)."""
    return _run(cfg, "ablations", ABLATION_METHODS, split)
