"""One trial's pipeline on the shared cache, and the fixation scoring of its STA net.

The stages are the pipeline's own (``avsal.stages``: prepare, audio_switch, train_cls, cams,
scam) run on a per-entry artifacts root; only STA training is driven from here, with the engine's
per-epoch hooks, so that every epoch reports the tuning objective to the pruner.

Cache keys (see :mod:`avsal.tuning.cache`), each over the params named plus its upstream key:

========== ================================================================= ===================
group      key                                                               holds
========== ================================================================= ===================
prepared   prepare, ave.categories, datasets, raw-data signature             prepared/
switch     prepared + model, tagger, audio_switch, coarse.input_size, seed   switch + taggers
coarse     switch + coarse, audio_switch.enabled                             coarse nets, CAMs
scam_coarse coarse + scam (rule, lam, crop_k, post-processing if on)         pseudo v1, boxes
fine       coarse + *content* of the boxes + fine                            fine nets, CAMs
scam_fine  fine + scam (rule, lam, post-processing if on)                    final pseudo-GT
sta        switch + *content* of the final pseudo-GT + sta                   STA weights
========== ================================================================= ===================

``model``, ``project.seed`` and ``runtime.device`` enter through ``switch``.  Keying the fine
nets on the boxes' bytes (not on the SCAM params) means a SCAM change that leaves the boxes
unchanged (lambda, usually) retrains nothing but STA.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from avsal.config import Config, from_dict
from avsal.tuning.cache import Cache, Entry, digest, file_digest, overlay

__all__ = [
    "TunePaths",
    "with_paths",
    "apply_params",
    "param_value",
    "data_signature",
    "TrialPipeline",
    "Scorer",
    "predict_videos",
    "train_sta",
    "Infeasible",
]

log = logging.getLogger(__name__)


class Infeasible(RuntimeError):
    """These params give a pipeline that cannot train (e.g. a pseudo-GT with no informative map)."""


class TunePaths:
    """``<artifacts>/tune/{optuna.db, cache/, studies/<study>/}`` and ``<reports>/tune/<study>/``."""

    def __init__(self, cfg: Config, study: str | None = None) -> None:
        self.root = Path(cfg.paths.artifacts).resolve() / "tune"
        self.cache = self.root / "cache"
        self.study = study
        self.study_dir = self.root / "studies" / study if study else None
        self.reports = Path(cfg.paths.reports).resolve() / "tune" / study if study else None
        self.main_prepared = Path(cfg.paths.artifacts).resolve() / "prepared"

    @property
    def default_storage(self) -> str:
        return f"sqlite:///{(self.root / 'optuna.db').as_posix()}"


def with_paths(cfg: Config, artifacts: Path, reports: Path) -> Config:
    """``cfg`` writing its stage outputs under ``artifacts`` / ``reports``."""
    return dataclasses.replace(cfg, paths=dataclasses.replace(cfg.paths, artifacts=str(artifacts), reports=str(reports)))


def param_value(cfg: Config, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def apply_params(cfg: Config, params: dict[str, Any], *, source: str = "<trial>") -> Config:
    """``cfg`` with dotted-key ``params`` set, re-typed and re-checked like a params file."""
    from avsal.config import _check, apply_overrides

    raw = cfg.to_dict()
    apply_overrides(raw, params, source=source)
    out = dataclasses.replace(from_dict(Config, raw, source=source), params_file=source)
    _check(out)
    return out


def data_signature(cfg: Config) -> str:
    """Names and contents of the raw files prepare reads (never mtimes: a regenerated, byte-equal
    world reuses its entries; a changed one re-prepares)."""
    rows = []
    for root in (Path(cfg.paths.ave_root), Path(cfg.paths.fixation_root)):
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                rows.append((os.path.relpath(path, root), file_digest(Path(path))))
    return digest(rows)


def _scam_key(cfg: Config, stage: str) -> dict[str, Any]:
    s = cfg.scam
    out: dict[str, Any] = {"rule": s.rule, "lam": s.lam, "temporal_postprocess": s.temporal_postprocess}
    if s.temporal_postprocess:
        out.update(post_window=s.post_window, post_mult=s.post_mult)
    if stage == "coarse":
        out["crop_k"] = s.crop_k
    return out


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link copy of a folder (a copy where links are impossible); shard writers only ever
    replace files, never write into them, so the source is never modified through the links."""
    for folder, dirs, files in os.walk(src):
        dirs[:] = [d for d in dirs if not d.endswith(".tmp")]
        rel = Path(folder).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            if name.startswith("."):
                continue
            target = dst / rel / name
            if target.exists():
                continue
            try:
                os.link(Path(folder) / name, target)
            except OSError:
                shutil.copy2(Path(folder) / name, target)


class TrialPipeline:
    """Builds (or finds) every cache entry a config needs, up to the trained STA net."""

    def __init__(self, base: Config) -> None:
        self.paths = TunePaths(base)
        # one cache per version of the code (and its CPU numerics): an edit never serves stale entries
        from avsal.utils.code import code_fingerprint

        code = code_fingerprint("avsal")
        self.cache = Cache(self.paths.cache / f"code-{digest([code, base.runtime.cpu_numerics, base.runtime.cpu_threads])}")
        self._prepared_key: str | None = None

    # ------------------------------------------------------------------ keys and builds
    def prepared_key(self, cfg: Config) -> str:
        if self._prepared_key is None:
            self._prepared_key = digest({"prepare": cfg.prepare, "categories": cfg.ave.categories,
                                         "sets": cfg.datasets.fixation_sets, "data": data_signature(cfg)})
        return self._prepared_key

    def prepared(self, cfg: Config) -> Entry:
        """Decoded data, seeded from the main pipeline's ``<artifacts>/prepared`` (hard links):
        only shards whose fingerprint differs are decoded again."""
        from avsal.stages import prepare

        def build(art: Path, rep: Path) -> dict[str, Any]:
            if self.paths.main_prepared.is_dir() and not (art / "prepared").exists():
                _link_tree(self.paths.main_prepared, art / "prepared")
            return prepare.run(with_paths(cfg, art, rep))

        return self.cache.ensure("prepared", self.prepared_key(cfg), build, inputs={"prepare": cfg.prepare})

    def entries(
        self,
        cfg: Config,
        *,
        sta_epoch: Callable[[Any, int, Config], float] | None = None,
        on_sta_epoch: Callable[[int, float], None] | None = None,
        progress: Callable[[str, Entry], None] | None = None,
    ) -> dict[str, Entry]:
        """Every entry of ``cfg``'s pipeline, in order; ``sta_epoch(model, epoch, cfg)`` scores an
        STA epoch and ``on_sta_epoch(epoch, value)`` may raise to stop (pruning)."""
        from avsal.stages import cams, train_cls

        def note(e: Entry) -> Entry:
            if progress is not None:
                progress(e.group, e)
            return e

        def stage(*fns: Callable[[Config], Any]) -> Callable[[Path, Path], dict[str, Any]]:
            def build(art: Path, rep: Path) -> dict[str, Any]:
                c = with_paths(cfg, art, rep)
                return {f"step{k}": _brief(fn(c)) for k, fn in enumerate(fns)}

            return build

        out: dict[str, Entry] = {}
        out["prepared"] = note(self.prepared(cfg))
        k_switch = digest({"up": out["prepared"].key, "model": cfg.model, "tagger": cfg.tagger, "switch": cfg.audio_switch,
                           "size": cfg.coarse.input_size, "seed": cfg.project.seed, "device": cfg.runtime.device})
        out["switch"] = note(self.cache.ensure("switch", k_switch, stage(lambda c: train_cls.run_audio_switch(c, track=False)),
                                               upstream=[out["prepared"]], inputs={"tagger": cfg.tagger, "audio_switch": cfg.audio_switch}))
        k_coarse = digest({"up": k_switch, "coarse": cfg.coarse, "switch_on": cfg.audio_switch.enabled})
        out["coarse"] = note(self.cache.ensure(
            "coarse", k_coarse,
            stage(*(lambda c, n=n: train_cls.run(c, stage="coarse", net=n, track=False) for n in train_cls.NETS),
                  lambda c: cams.run_cams(c, stage="coarse")),
            upstream=[out["prepared"], out["switch"]], inputs={"coarse": cfg.coarse}))
        k_scam_c = digest({"up": k_coarse, "scam": _scam_key(cfg, "coarse")})
        out["scam_coarse"] = note(self.cache.ensure("scam_coarse", k_scam_c, stage(lambda c: cams.run_scam(c, stage="coarse")),
                                                    upstream=[out["coarse"]], inputs={"scam": _scam_key(cfg, "coarse")}))
        boxes = file_digest(out["scam_coarse"].artifacts / "pseudo" / "coarse" / "boxes.npy",
                            out["scam_coarse"].artifacts / "pseudo" / "coarse" / "refs.json")
        k_fine = digest({"up": k_coarse, "boxes": boxes, "fine": cfg.fine})
        out["fine"] = note(self.cache.ensure(
            "fine", k_fine,
            stage(*(lambda c, n=n: train_cls.run(c, stage="fine", net=n, track=False) for n in train_cls.NETS),
                  lambda c: cams.run_cams(c, stage="fine")),
            upstream=[out["prepared"], out["switch"], out["scam_coarse"]], inputs={"fine": cfg.fine, "boxes": boxes}))
        k_scam_f = digest({"up": k_fine, "scam": _scam_key(cfg, "fine")})
        out["scam_fine"] = note(self.cache.ensure("scam_fine", k_scam_f, stage(lambda c: cams.run_scam(c, stage="fine")),
                                                  upstream=[out["fine"]], inputs={"scam": _scam_key(cfg, "fine")}))
        pseudo = file_digest(out["scam_fine"].artifacts / "pseudo" / "fine" / "maps.npy",
                             out["scam_fine"].artifacts / "pseudo" / "fine" / "refs.json")
        k_sta = digest({"up": k_switch, "pseudo": pseudo, "sta": cfg.sta, "switch_on": cfg.audio_switch.enabled})

        def build_sta(art: Path, rep: Path) -> dict[str, Any]:
            c = with_paths(cfg, art, rep)
            score = None if sta_epoch is None else (lambda m, e: sta_epoch(m, e, c))
            return train_sta(c, score_epoch=score, on_epoch=on_sta_epoch)

        out["sta"] = note(self.cache.ensure("sta", k_sta, build_sta, upstream=[out["prepared"], out["switch"], out["scam_fine"]],
                                            inputs={"sta": cfg.sta, "pseudo": pseudo}))
        return out

    def workspace(self, cfg: Config, folder: Path, entries: dict[str, Entry]) -> Config:
        """A trial folder whose artifacts overlay ``entries``; ``cfg`` pointed at it."""
        overlay(folder / "artifacts", list(entries.values()))
        (folder / "reports").mkdir(parents=True, exist_ok=True)
        return with_paths(cfg, folder / "artifacts", folder / "reports")


def _brief(result: Any) -> Any:
    """A stage's metrics without its per-epoch history (kept small in entry.json)."""
    if isinstance(result, dict):
        return {k: v for k, v in result.items() if k != "history"}
    return result


# ----------------------------------------------------------------------------- STA


def train_sta(
    cfg: Config,
    *,
    score_epoch: Callable[[Any, int], float] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> dict[str, Any]:
    """``avsal.stages.sta.run_train(variant="sta")`` with per-epoch scoring hooks, untracked.

    Same data, net, seed and checkpoint fingerprint as the stage, so the weights are the ones
    ``dvc repro`` would train with these params.  ``score_epoch(model, epoch)`` runs in the
    engine's eval hook (eval mode, no grad); ``on_epoch(epoch, value)`` after that epoch's
    checkpoint is on disk, and may raise (``optuna.TrialPruned``) to stop; a later build with the
    same key resumes from that checkpoint.
    """
    from avsal.stages.common import Paths, fit
    from avsal.stages.sta import setup_training, sta_loss_fn

    paths = Paths(cfg)
    st = setup_training(cfg, variant="sta")
    if len(st.train_set) == 0:
        raise Infeasible(f"{paths.pseudo('fine')}: no informative pseudo-GT map on the AVE train split: nothing to train STA on")
    train_set, model, tcfg = st.train_set, st.model, st.config
    scores: dict[int, float] = {}

    def eval_fn(m: Any, epoch: int) -> dict[str, float]:
        if score_epoch is None:
            return {}
        scores[epoch] = float(score_epoch(m, epoch))
        return {"tune_objective": scores[epoch]}

    def epoch_end(epoch: int, record: dict[str, Any]) -> None:
        if on_epoch is not None and epoch in scores:
            on_epoch(epoch, scores[epoch])

    t0 = time.perf_counter()
    result = fit(model, train_set, sta_loss_fn, tcfg, eval_fn=eval_fn, on_epoch_end=epoch_end)
    return {
        "train_bce": float(result.history[-1]["train/loss"]) if result.history else float("nan"),
        "epoch_objective": [r.get("eval/tune_objective") for r in result.history],
        "n_train": len(train_set),
        "resumed_from_epoch": result.start_epoch,
        "seconds": round(time.perf_counter() - t0, 2),
    }


# ----------------------------------------------------------------------------- scoring


def predict_videos(cfg: Config, model: Any, set_name: str, videos: list[str]) -> dict[str, np.ndarray]:
    """STA maps {video: float32 [T, H, W]} (cached-frame size) of ``videos`` of one set."""
    import torch

    from avsal.data.datasets import FrameDataset
    from avsal.data.prepared import PreparedSet
    from avsal.stages.common import infer
    from avsal.stages.prepare import prepared_dir

    prepared = PreparedSet(prepared_dir(cfg, set_name))
    wanted = set(videos)
    missing = wanted - set(prepared.by_id)
    if missing:
        raise KeyError(f"{prepared.root}: videos {sorted(missing)} were not prepared")
    refs = [(ci, i) for ci, i in prepared.frame_refs() if prepared.clips[ci].clip_id in wanted]
    ds = FrameDataset(prepared, refs, input_size=cfg.sta.input_size, clip_frames=cfg.model.clip_frames)
    full = prepared.frame_size
    was_training = model.training

    def fn(m: Any, b: dict[str, Any]) -> dict[str, Any]:
        p = m(frame=b["frame"], clip=b["clip"], audio=b["audio"])
        return {"map": torch.nn.functional.interpolate(p.float(), size=full, mode="bilinear", align_corners=False)[:, 0]}

    try:
        out = infer(model, ds, fn, batch_size=cfg.runtime.infer_batch_size, device=cfg.runtime.device, desc=f"predict {set_name}")
    finally:
        model.train(was_training)
    maps: dict[str, list[tuple[int, np.ndarray]]] = {}
    for k, (ci, i) in enumerate(refs):
        maps.setdefault(prepared.clips[ci].clip_id, []).append((i, out["map"][k]))
    return {v: np.stack([m for _, m in sorted(rows, key=lambda r: r[0])]) for v, rows in maps.items()}


class Scorer:
    """The evaluation protocol (``avsal.metrics``) of STA maps on fixed videos of each set.

    Ground truth is read once per process and kept; scoring a model is predict + protocol, cheap
    enough to run after every STA epoch on the embedded profile.
    """

    def __init__(self, cfg: Config, videos: dict[str, list[str]], metrics: tuple[str, ...]) -> None:
        self.root = Path(cfg.paths.fixation_root)
        self.videos = videos
        self.metrics = tuple(metrics)
        self._gt: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def _truth(self, set_name: str, video: str) -> tuple[np.ndarray, np.ndarray]:
        from avsal.data.fixations import FixationSet

        if (set_name, video) not in self._gt:
            vid = FixationSet(self.root, set_name).video(video)
            n, shape = vid.check()
            fix = np.stack([vid.fixations(i, shape=shape) for i in range(n)])
            gt = np.stack([vid.saliency_map(i) for i in range(n)])
            self._gt[(set_name, video)] = (fix, gt)
        return self._gt[(set_name, video)]

    def table(self, cfg: Config, model: Any) -> dict[str, dict[str, float]]:
        """{set: {metric: value}}: frame mean per video, unweighted mean over videos."""
        from avsal.metrics.protocol import ProtocolConfig, VideoInput, evaluate

        pconf = ProtocolConfig(sigma=cfg.evaluate.blur_sigma, metrics=self.metrics, n_splits=cfg.evaluate.s_auc_splits,
                               step=cfg.evaluate.s_auc_step, seed=cfg.evaluate.seed)
        device = None if cfg.runtime.device == "auto" else cfg.runtime.device
        out: dict[str, dict[str, float]] = {}
        for set_name, videos in self.videos.items():
            preds = predict_videos(cfg, model, set_name, videos)
            inputs = []
            for v in videos:
                fix, gt = self._truth(set_name, v)
                if len(preds[v]) != len(fix):
                    raise ValueError(f"{set_name}/{v}: {len(preds[v])} predicted frames, {len(fix)} annotated")
                inputs.append(VideoInput(name=v, preds=preds[v], fix=fix, gt_maps=gt))
            ev = evaluate({set_name: inputs}, pconf, device=device, workers=1)
            out[set_name] = {str(r.metric): float(r.value) for r in ev.datasets.itertuples()}
        return out

    def objective(self, table: dict[str, dict[str, float]], metrics: tuple[str, ...] | None = None) -> float:
        """Mean over sets of the mean of ``metrics`` (default: all scored) of each set."""
        ms = metrics or self.metrics
        return float(np.mean([np.mean([table[s][m] for m in ms]) for s in table]))


def load_sta(cfg: Config) -> Any:
    """The trained STA net of ``cfg``'s artifacts (with its frozen switch)."""
    from avsal.stages.common import Paths, load_net
    from avsal.stages.sta import uses_switch
    from avsal.stages.train_cls import load_switch

    switch = load_switch(cfg) if uses_switch(cfg, "sta") else None
    return load_net(cfg, "sta", Paths(cfg).model("sta", "sta"), num_classes=None, switch=switch)
