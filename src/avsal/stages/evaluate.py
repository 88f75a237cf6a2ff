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
from avsal.data.datasets import MapStore, RowView
from avsal.data.fixations import FixationSet, SaliencyStack
from avsal.metrics.inputs import FixationPoints, Frames
from avsal.metrics.protocol import ProtocolConfig, VideoInput, evaluate
from avsal.stages.artifacts import MAP_NAMES, Paths
from avsal.stages.common import tracker_for
from avsal.utils.io import atomic_write_bytes, write_result_json

__all__ = [
    "GroundTruth",
    "protocol",
    "score_videos",
    "video_maps",
    "centre_bias",
    "score",
    "summarise",
    "run",
    "run_ablations",
    "TABLE4_METHODS",
    "ABLATION_METHODS",
]

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


def centre_bias(shape: tuple[int, int]) -> np.ndarray:
    """A centred anisotropic Gaussian (sigma = a quarter of each side): the classic baseline."""
    h, w = shape
    y = (np.arange(h) - (h - 1) / 2) / (h / 4)
    x = (np.arange(w) - (w - 1) / 2) / (w / 4)
    return np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2)).astype(np.float32)


#: ``maps_of(video, n_frames, gt_shape)``: one method's maps of a video (an array or a lazy stack)
MapsOf = Callable[[str, int, tuple[int, int]], Frames]


def video_maps(
    store: MapStore, video: str, n: int, channel: int | None = None
) -> np.ndarray | RowView:
    """One video's maps ``[n, H, W]`` in frame order from a store of a whole set, not read yet:
    a view of the (memory-mapped) store where the video's rows are in order, else a lazy
    :class:`RowView`; the scorer reads them chunk by chunk, in the store's dtype."""
    rows = [k for k, (cid, _) in enumerate(store.refs) if cid == video]
    if len(rows) != n:
        raise ValueError(f"{video}: {len(rows)} predicted frames, the set has {n}")
    rows.sort(key=lambda k: store.refs[k][1])
    if rows and rows == list(range(rows[0], rows[0] + n)):
        view = store.maps[rows[0] : rows[0] + n]
        return view if channel is None else view[:, channel]
    return RowView(store.maps, rows, channel=channel)


def _method_loader(cfg: Config, set_name: str, source: str, key: str) -> MapsOf:
    paths = Paths(cfg)
    if source == "pred":
        store = MapStore.load(paths.predictions(key, set_name))
        return lambda v, n, shape: video_maps(store, v, n, None)
    if source == "map":
        store = MapStore.load(paths.method_maps(set_name))
        ch = MAP_NAMES.index(key)
        return lambda v, n, shape: video_maps(store, v, n, ch)
    if source == "centre":
        return lambda v, n, shape: np.repeat(centre_bias(shape)[None], n, axis=0)
    raise ValueError(f"unknown method source {source!r}")


class GroundTruth:
    """Fixation points and GT density maps of fixation videos, the points read once per process
    (a tuning trial scores its net after every epoch against the same videos).

    The points are small (:class:`FixationPoints`: a few MB for the longest video); the density
    maps are a lazy stack (:class:`SaliencyStack`), read chunk by chunk by the scorer, so
    scoring holds one chunk of frames, not a set or a video.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, str], tuple[FixationPoints, SaliencyStack]] = {}

    def get(self, set_name: str, video: str) -> tuple[FixationPoints, SaliencyStack]:
        """(fixations [T, H, W] as points, GT maps float32 [T, H, W]) at the annotation size."""
        if (set_name, video) not in self._cache:
            vid = FixationSet(self.root, set_name).video(video)
            n, shape = vid.check()
            fix = FixationPoints.from_maps((vid.fixations(i, shape=shape) for i in range(n)), shape)
            self._cache[(set_name, video)] = (fix, SaliencyStack(vid, n, shape))
        return self._cache[(set_name, video)]


def protocol(cfg: Config, metrics: tuple[str, ...] | None = None) -> ProtocolConfig:
    """The STAViS/MIT protocol of ``evaluate.*`` (the paper's five metrics unless ``metrics``)."""
    kw = {} if metrics is None else {"metrics": tuple(metrics)}
    return ProtocolConfig(
        sigma=cfg.evaluate.blur_sigma,
        n_splits=cfg.evaluate.s_auc_splits,
        step=cfg.evaluate.s_auc_step,
        seed=cfg.evaluate.seed,
        **kw,
    )


def score_videos(
    cfg: Config,
    truth: GroundTruth,
    set_name: str,
    videos: list[str],
    maps_of: MapsOf,
    *,
    metrics: tuple[str, ...] | None = None,
    workers: int | None = None,
) -> Any:
    """Score one method's maps (``maps_of(video, n_frames, gt_shape)``) on ``videos`` of a set.

    The one scoring path of the evaluate/ablations stages and of tuning trials; returns the
    protocol's :class:`~avsal.metrics.protocol.Evaluation` (per-frame scores and means).
    """
    inputs = []
    for v in videos:
        fix, gt = truth.get(set_name, v)
        preds = maps_of(v, len(fix), fix.shape[1:])
        if len(preds) != len(fix):
            raise ValueError(f"{set_name}/{v}: {len(preds)} predicted frames, {len(fix)} annotated")
        inputs.append(VideoInput(name=v, preds=preds, fix=fix, gt_maps=gt))
    device = None if cfg.runtime.device == "auto" else cfg.runtime.device
    return evaluate({set_name: inputs}, protocol(cfg, metrics), device=device, workers=workers)


def score(
    cfg: Config,
    methods: dict[str, tuple[str, str]],
    *,
    split: str = "test",
    sets: list[str] | None = None,
) -> pd.DataFrame:
    """Tidy per-frame table (method, dataset, video, frame, metric, value) for ``methods``."""
    root = Path(cfg.paths.fixation_root)
    tables = []
    for set_name in sets or list(cfg.datasets.fixation_sets):
        truth = GroundTruth(root)  # one set's fixation points at a time, shared by its methods
        videos = FixationSet(root, set_name).split_videos(split, fold=cfg.evaluate.fold)
        for method, (source, key) in methods.items():
            ev = score_videos(
                cfg, truth, set_name, videos, _method_loader(cfg, set_name, source, key)
            )
            tables.append(ev.frames.assign(method=method))
    out = pd.concat(tables, ignore_index=True)
    return out[["method", "dataset", "video", "frame", "metric", "value"]]


def summarise(frames: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """{method: {dataset: {metric: value}}}: frame mean per video, then unweighted video mean."""
    per_video = (
        frames.dropna(subset=["value"])
        .groupby(["method", "dataset", "video", "metric"])["value"]
        .mean()
        .reset_index()
    )
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
    with tracker_for(
        cfg, name, params={"evaluate": cfg.evaluate, "split": split, "methods": methods}
    ) as h:
        frames = score(cfg, methods, split=split)
        summary = summarise(frames)
        atomic_write_bytes(paths.eval_frames(name), frames.to_csv(index=False).encode())
        result = {
            "split": split,
            "fold": cfg.evaluate.fold,
            "protocol": {
                "blur_sigma": cfg.evaluate.blur_sigma,
                "s_auc_splits": cfg.evaluate.s_auc_splits,
                "s_auc_step": cfg.evaluate.s_auc_step,
            },
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
