"""Stages train_sta and predict@<set>: the STA fixation network (Sec. 3.8, Eq. 5-6).

STA learns from the final pseudo fixations only (no tags, no human fixations), then predicts a
fixation map for every frame of any video; here, the six eye-tracking sets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from avsal.config import Config
from avsal.data.datasets import FrameDataset, MapStore, RowView
from avsal.data.map_writer import CHUNK_BYTES, MapStoreWriter, chunk_rows
from avsal.data.prepared import PreparedSet
from avsal.errors import NoTrainingData
from avsal.stages import artifacts
from avsal.stages.artifacts import STA_VARIANTS, Paths, uses_switch
from avsal.stages.common import (
    build_net,
    fit,
    infer,
    load_sta,
    load_switch,
    tracker_for,
    train_config,
)
from avsal.stages.sta_monitor import overlay_figure, val_scores
from avsal.utils.hashing import file_digest
from avsal.utils.io import write_result_json

__all__ = [
    "VARIANTS",
    "STATraining",
    "setup_training",
    "run_train",
    "run_predict",
    "prediction_chunks",
    "predict_set",
    "uses_switch",
    "pseudo_split",
    "serving_net",
]


VARIANTS = STA_VARIANTS


def serving_net(*, params: dict[str, Any], with_switch: bool) -> torch.nn.Module:
    """Rebuild the STA net (and its frozen switch) for the model registry: weights load after."""
    from avsal.config import Config, from_dict

    cfg = from_dict(Config, params)
    switch = build_net(cfg, "audio_switch", num_classes=None) if with_switch else None
    return build_net(cfg, "sta", num_classes=None, switch=switch)


def pseudo_split(
    cfg: Config, prepared: PreparedSet, split: str
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Refs of ``split`` frames that carry an informative final pseudo-GT map, and those maps
    (a view read row by row from the memory-mapped store: a training set holds no maps)."""
    store = MapStore.load(Paths(cfg).pseudo("fine"))
    refs = store.refs_in(prepared)
    informative = np.asarray(store.extra["informative"], bool)
    keep = [
        k for k, (ci, _) in enumerate(refs) if prepared.clips[ci].split == split and informative[k]
    ]
    return [refs[k] for k in keep], RowView(store.maps, keep)


def sta_loss_fn(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Eq. 6: binary cross entropy between Dec(STA) and the pseudo-GT (on logits, for stability)."""
    from avsal.models import sta_loss

    logits = model.forward_logits(frame=batch["frame"], clip=batch["clip"], audio=batch["audio"])
    return sta_loss(logits.float(), batch["pseudo"].float()), {}


@dataclass
class STATraining:
    """Everything one STA training run is made of (shared by the stage and by tuning trials)."""

    train_set: FrameDataset
    val_set: FrameDataset
    model: torch.nn.Module
    config: Any  # avsal.training.TrainConfig
    switch: torch.nn.Module | None


def setup_training(cfg: Config, *, variant: str = "sta") -> STATraining:
    """Data, net and engine config of STA for ``variant``; the checkpoint fingerprint covers all."""
    paths = Paths(cfg)
    prepared = artifacts.prepared(cfg, "ave")
    refs, maps = pseudo_split(cfg, prepared, "train")
    vrefs, vmaps = pseudo_split(cfg, prepared, "val")
    kw = dict(input_size=cfg.sta.input_size, clip_frames=cfg.model.clip_frames)
    switch = load_switch(cfg) if uses_switch(cfg, variant) else None
    # both variants start from the same seed, so the switch is the only difference
    tcfg = train_config(
        cfg,
        cfg.sta.train,
        checkpoint_dir=paths.checkpoints("sta", variant),
        export_path=paths.model("sta", variant),
        seed_offset=300,
        inputs=[
            variant,
            cfg.sta,
            switch is not None,
            file_digest(
                prepared.root / "index.json", paths.pseudo("fine") / "maps.npy", missing_ok=True
            ),
        ],
    )
    return STATraining(
        train_set=FrameDataset(prepared, refs, pseudo=maps, hflip=True, **kw),
        val_set=FrameDataset(prepared, vrefs, pseudo=vmaps, **kw),
        model=build_net(
            cfg, "sta", num_classes=None, switch=switch, seed_offset=300
        ),  # same init for both variants
        config=tcfg,
        switch=switch,
    )


#: ``score_epoch(model, epoch) -> {name: value}``: extra per-epoch metrics (eval mode, no grad)
ScoreEpoch = Callable[[torch.nn.Module, int], dict[str, float]]
#: ``on_epoch(epoch, record)``: after the epoch's checkpoint is on disk; may raise to stop (pruning)
OnEpoch = Callable[[int, dict[str, Any]], None]


def run_train(
    cfg: Config,
    *,
    variant: str = "sta",
    track: bool = True,
    score_epoch: ScoreEpoch | None = None,
    on_epoch: OnEpoch | None = None,
) -> dict[str, Any]:
    """Train STA on the pseudo fixations of the AVE train split; export its state_dict.

    ``score_epoch`` / ``on_epoch`` are how a tuning trial reads its objective after every epoch
    and stops a pruned run; a stopped run resumes from its checkpoint when asked again.
    """
    paths = Paths(cfg)
    st = setup_training(cfg, variant=variant)
    train_set, val_set, model, tcfg, switch = (
        st.train_set,
        st.val_set,
        st.model,
        st.config,
        st.switch,
    )
    if len(train_set) == 0:
        raise NoTrainingData(
            f"{paths.pseudo('fine')}: no informative pseudo-GT map on the AVE train split: nothing to train STA on"
        )

    def _val(m: torch.nn.Module) -> dict[str, float]:
        return val_scores(
            m, val_set, batch_size=cfg.runtime.infer_batch_size, device=cfg.runtime.device
        )

    def eval_fn(m: torch.nn.Module, epoch: int) -> dict[str, float]:
        out = _val(m)
        if score_epoch is not None:
            out.update(score_epoch(m, epoch))
        return out

    def epoch_end(epoch: int, record: dict[str, Any]) -> None:
        h.log_metrics({k: v for k, v in record.items() if isinstance(v, float)}, step=epoch)
        if on_epoch is not None:
            on_epoch(epoch, record)

    name = variant
    t0 = time.perf_counter()
    params = {
        "variant": name,
        "audio_switch": switch is not None,
        "sta": cfg.sta,
        "model": cfg.model,
        "scam": cfg.scam,
        "n_train_frames": len(train_set),
    }
    with tracker_for(cfg, f"train_sta@{name}", params=params, enabled=track) as h:
        result = fit(
            model,
            train_set,
            sta_loss_fn,
            tcfg,
            eval_fn=eval_fn,
            on_epoch_end=epoch_end,
        )
        metrics = {
            "train_bce": float(result.history[-1]["train/loss"])
            if result.history
            else float("nan"),
            **_val(model),
            "n_train": len(train_set),
            "frames_per_s": float(result.frames_per_s),
            "seconds": round(time.perf_counter() - t0, 2),
            "history": result.history,
        }
        h.log_metrics({k: v for k, v in metrics.items() if isinstance(v, float)})
        h.log_artifact(str(paths.model("sta", name)))
        if h.enabled and len(val_set):
            import matplotlib.pyplot as plt

            fig = overlay_figure(model, val_set, device=str(next(model.parameters()).device))
            h.log_figure(fig, "figures/held_out_overlays.png")
            plt.close(fig)
        if variant == "sta":
            example = {
                k: v[None].numpy()
                for k, v in train_set[0].items()
                if k in ("frame", "clip", "audio")
            }
            h.register_torch_model(
                name=f"{cfg.project.name}-sta",
                state_dict_path=paths.model("sta", name),
                builder="avsal.stages.sta:serving_net",
                builder_kwargs={"params": cfg.to_dict(), "with_switch": switch is not None},
                input_example=example,
            )
    write_result_json(paths.report(f"train/{name}.json"), metrics)
    return metrics


def prediction_chunks(
    cfg: Config,
    name: str,
    *,
    variant: str = "sta",
    videos: list[str] | None = None,
    model: torch.nn.Module | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[MapStore]:
    """STA predictions [n, H, W] (cached-frame size, float32) of a fixation set's frames, in
    chunks of about ``chunk_bytes`` (whole inference batches: the numbers do not depend on it).

    ``videos``: only these (default all); ``model``: this net instead of the trained ``variant``
    (a tuning trial scores its net after every epoch; its train/eval mode is restored).
    """
    prepared = artifacts.prepared(cfg, name)
    refs = prepared.frame_refs()
    if videos is not None:
        missing = set(videos) - set(prepared.by_id)
        if missing:
            raise KeyError(f"{prepared.root}: videos {sorted(missing)} were not prepared")
        wanted = set(videos)
        refs = [(ci, i) for ci, i in refs if prepared.clips[ci].clip_id in wanted]
    was_training = model.training if model is not None else False
    model = model if model is not None else load_sta(cfg, variant)
    full = prepared.frame_size
    step = chunk_rows(full[0] * full[1] * 4, cfg.runtime.infer_batch_size, chunk_bytes)

    def fn(m, b):
        p = m(frame=b["frame"], clip=b["clip"], audio=b["audio"])  # [B, 1, h, w] in (0, 1)
        return {
            "map": torch.nn.functional.interpolate(
                p.float(), size=full, mode="bilinear", align_corners=False
            )[:, 0]
        }

    try:
        for s in range(0, len(refs), step):
            chunk = refs[s : s + step]
            ds = FrameDataset(
                prepared, chunk, input_size=cfg.sta.input_size, clip_frames=cfg.model.clip_frames
            )
            out = infer(
                model,
                ds,
                fn,
                batch_size=cfg.runtime.infer_batch_size,
                device=cfg.runtime.device,
                desc=f"predict {name}",
            )
            yield MapStore(out["map"], [(prepared.clips[ci].clip_id, i) for ci, i in chunk])
    finally:
        model.train(was_training)


def predict_set(cfg: Config, name: str, **kw: Any) -> MapStore:
    """:func:`prediction_chunks` in one store, in memory: for a tuning trial's few videos."""
    parts = list(prediction_chunks(cfg, name, **kw))
    if not parts:
        h, w = artifacts.prepared(cfg, name).frame_size
        return MapStore(np.zeros((0, h, w), np.float32), [])
    return MapStore(
        np.concatenate([np.asarray(p.maps) for p in parts]), [r for p in parts for r in p.refs]
    )


def run_predict(
    cfg: Config, *, name: str, variant: str = "sta", chunk_bytes: int = CHUNK_BYTES
) -> dict[str, Any]:
    """Stage predict@<set>: write the STA predictions of one fixation set (float16 on disk),
    chunk by chunk."""
    t0 = time.perf_counter()
    folder = Paths(cfg).predictions(variant, name)
    prepared = artifacts.prepared(cfg, name)
    n = len(prepared.frame_refs())
    refs: list[tuple[str, int]] = []
    with MapStoreWriter(folder, n, maps=(tuple(prepared.frame_size), np.float16)) as out:
        for part in prediction_chunks(cfg, name, variant=variant, chunk_bytes=chunk_bytes):
            out.append(maps=np.asarray(part.maps).astype(np.float16))
            refs += part.refs
        out.finish(refs)
    return {
        "frames": n,
        "seconds": round(time.perf_counter() - t0, 2),
        "path": str(folder),
    }
