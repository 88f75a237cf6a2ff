"""Stages train_cls@{coarse,fine}-{s,st,sa} and audio_switch: the tag-supervised nets.

Classification nets learn the AVE category of a frame from the video's tag only (Fig. 6 A-C),
on frames inside the annotated event.  The fine stage trains NEW nets on the crops that the
coarse SCAM boxes cut out (Sec. 3.6).  The audio switch (Sec. 3.7) learns whether a frame's
audio carries the tag, from labels produced by an audio tagger.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from avsal.config import Config
from avsal.data.datasets import FrameDataset
from avsal.data.prepared import PreparedSet
from avsal.stages import artifacts
from avsal.stages.artifacts import NETS, Paths, coarse_boxes_for
from avsal.stages.common import (
    build_net,
    cls_loss,
    fit,
    infer,
    load_switch,
    net_inputs,
    tracker_for,
    train_config,
)
from avsal.utils.hashing import file_digest
from avsal.utils.io import write_result_json

__all__ = ["run", "run_audio_switch"]


def _data_digest(cfg: Config, stage: str) -> str:
    """What the stage's training data is made of (prepared index; coarse boxes for fine)."""
    files = [Paths(cfg).prepared("ave") / "index.json"]
    if stage == "fine":
        files.append(Paths(cfg).pseudo("coarse") / "boxes.npy")
    if cfg.audio_switch.enabled:
        files.append(Paths(cfg).model("audio_switch", "switch"))
    return file_digest(*files, missing_ok=True)


def _dataset(
    cfg: Config, prepared: PreparedSet, split: str, stage: str, kind: str, *, train: bool = False
) -> FrameDataset:
    refs = prepared.frame_refs(split=split, labelled_only=True)
    spec = cfg.coarse if stage == "coarse" else cfg.fine
    boxes = coarse_boxes_for(cfg, prepared, refs) if stage == "fine" else None
    clip_frames = cfg.model.clip_frames if kind in ("st", "sta_cls") else 1
    return FrameDataset(
        prepared,
        refs,
        input_size=spec.input_size,
        clip_frames=clip_frames,
        num_classes=len(cfg.ave.categories),
        boxes=boxes,
        hflip=train,
    )


def _accuracy(model: torch.nn.Module, kind: str, ds: FrameDataset, cfg: Config) -> float:
    if len(ds) == 0:
        return float("nan")
    out = infer(
        model,
        ds,
        lambda m, b: {
            "hit": (
                b["target"].gather(1, m(**net_inputs(kind, b)).argmax(1, keepdim=True)) > 0
            ).float()
        },
        batch_size=cfg.runtime.infer_batch_size,
        device=cfg.runtime.device,
        desc=f"val {kind}",
    )
    return float(out["hit"].mean())


def run(cfg: Config, *, stage: str, net: str, track: bool = True) -> dict[str, Any]:
    """Train one classification net of one stage; export its state_dict; return its metrics."""
    if stage not in ("coarse", "fine") or net not in (*NETS, "sta_cls"):
        raise ValueError(
            f"unknown classification net {stage}-{net}; expected coarse|fine and {(*NETS, 'sta_cls')}"
        )
    paths = Paths(cfg)
    prepared = artifacts.prepared(cfg, "ave")
    switch = load_switch(cfg) if net in ("sa", "sta_cls") else None
    train_set = _dataset(cfg, prepared, "train", stage, net, train=True)
    val_set = _dataset(cfg, prepared, "val", stage, net)
    offset = (*NETS, "sta_cls").index(net) + (10 if stage == "fine" else 0)
    model = build_net(
        cfg, net, num_classes=len(cfg.ave.categories), switch=switch, seed_offset=offset
    )
    spec = (cfg.coarse if stage == "coarse" else cfg.fine).train
    tcfg = train_config(
        cfg,
        spec,
        checkpoint_dir=paths.checkpoints(stage, net),
        export_path=paths.model(stage, net),
        seed_offset=offset,
        inputs=[
            stage,
            cfg.coarse if stage == "coarse" else cfg.fine,
            cfg.audio_switch.enabled,
            _data_digest(cfg, stage),
        ],
    )
    name = f"train_cls@{stage}-{net}"
    params = {
        "stage": stage,
        "net": net,
        "model": cfg.model,
        "input_size": (cfg.coarse if stage == "coarse" else cfg.fine).input_size,
        "train": spec,
        "audio_switch": switch is not None,
        "n_train_frames": len(train_set),
    }
    t0 = time.perf_counter()
    with tracker_for(cfg, name, params=params, enabled=track) as run_handle:
        result = fit(
            model,
            train_set,
            cls_loss(net),
            tcfg,
            eval_fn=lambda m, epoch: {"val_acc": _accuracy(m, net, val_set, cfg)},
            on_epoch_end=lambda epoch, rec: run_handle.log_metrics(
                {k: v for k, v in rec.items() if isinstance(v, (int, float))}, step=epoch
            ),
        )
        metrics = {
            "train_loss": float(result.history[-1]["train/loss"])
            if result.history
            else float("nan"),
            "train_acc": float(result.history[-1].get("train/acc", float("nan")))
            if result.history
            else float("nan"),
            "val_acc": _accuracy(model, net, val_set, cfg),
            "n_train": len(train_set),
            "n_val": len(val_set),
            "seconds": round(time.perf_counter() - t0, 2),
            "history": result.history,
        }
        run_handle.log_metrics({k: v for k, v in metrics.items() if isinstance(v, float)})
        run_handle.log_artifact(str(paths.model(stage, net)))
    write_result_json(paths.report(f"train/{stage}-{net}.json"), metrics)
    return metrics


# ------------------------------------------------------------------------------ audio switch


def _tagger_top1(
    cfg: Config, prepared: PreparedSet, refs: list[tuple[int, int]], *, track_handle: Any
) -> np.ndarray:
    """Top-1 audio class of each frame: out-of-fold trained taggers, or an external file."""
    if cfg.tagger.source == "file":
        from avsal.models.tagger import PredictionsFileTagger

        tagger = PredictionsFileTagger(
            path=cfg.tagger.predictions_file, class_names=cfg.ave.categories
        )
        ids = [prepared.clips[ci].clip_id for ci, _ in refs]
        secs = [int(prepared.clips[ci].times[i]) for ci, i in refs]
        return tagger.predict_top1(ids, secs)
    paths = Paths(cfg)
    clip_fold = {ci: k % cfg.tagger.folds for k, ci in enumerate(sorted({ci for ci, _ in refs}))}
    top1 = np.full(len(refs), -1, np.int64)
    for fold in range(cfg.tagger.folds):
        fit_refs = [r for r in refs if clip_fold[r[0]] != fold]
        held = [k for k, r in enumerate(refs) if clip_fold[r[0]] == fold]
        ds = FrameDataset(
            prepared, fit_refs, input_size=(8, 8), num_classes=len(cfg.ave.categories)
        )
        model = build_net(cfg, "audio", num_classes=len(cfg.ave.categories), seed_offset=100 + fold)
        tcfg = train_config(
            cfg,
            cfg.tagger.train,
            checkpoint_dir=paths.checkpoints("tagger", f"fold{fold}"),
            export_path=paths.model("tagger", f"fold{fold}"),
            seed_offset=100 + fold,
            inputs=[cfg.tagger, _data_digest(cfg, "coarse")],
        )
        fit(
            model,
            ds,
            cls_loss("audio"),
            tcfg,
            on_epoch_end=lambda e, rec, f=fold: track_handle.log_metrics(
                {f"tagger_fold{f}_{k}": v for k, v in rec.items() if isinstance(v, float)}, step=e
            ),
        )
        held_ds = FrameDataset(prepared, [refs[k] for k in held], input_size=(8, 8))
        out = infer(
            model,
            held_ds,
            lambda m, b: {"top1": m(audio=b["audio"]).argmax(1)},
            batch_size=cfg.runtime.infer_batch_size,
            device=cfg.runtime.device,
            desc=f"tagger fold {fold}",
        )
        top1[held] = out["top1"].astype(np.int64)
    return top1


def switch_loss(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, Any]]:
    logit = model(frame=batch["frame"], audio=batch["audio"]).reshape(-1).float()
    loss = F.binary_cross_entropy_with_logits(logit, batch["switch"])
    return loss, {"acc": ((logit > 0).float() == batch["switch"]).float().mean().detach()}


def run_audio_switch(cfg: Config, *, track: bool = True) -> dict[str, Any]:
    """Label frames with the tagger (1 = audio carries the tag), train the switch on them."""
    paths = Paths(cfg)
    prepared = artifacts.prepared(cfg, "ave")
    refs = prepared.frame_refs(split="train", labelled_only=True)
    with tracker_for(
        cfg,
        "audio_switch",
        params={"tagger": cfg.tagger, "switch": cfg.audio_switch, "model": cfg.model},
        enabled=track,
    ) as h:
        top1 = _tagger_top1(cfg, prepared, refs, track_handle=h)
        labels = np.array(
            [float(top1[k] in prepared.clips[ci].labels[i]) for k, (ci, i) in enumerate(refs)],
            np.float32,
        )
        ds = FrameDataset(prepared, refs, input_size=cfg.coarse.input_size, switch=labels)
        model = build_net(cfg, "audio_switch", num_classes=None, seed_offset=200)
        tcfg = train_config(
            cfg,
            cfg.audio_switch.train,
            checkpoint_dir=paths.checkpoints("audio_switch", "switch"),
            export_path=paths.model("audio_switch", "switch"),
            seed_offset=200,
            inputs=[
                cfg.tagger,
                cfg.audio_switch,
                cfg.coarse.input_size,
                _data_digest(cfg, "coarse"),
            ],
        )
        result = fit(
            model,
            ds,
            switch_loss,
            tcfg,
            on_epoch_end=lambda e, rec: h.log_metrics(
                {k: v for k, v in rec.items() if isinstance(v, float)}, step=e
            ),
        )
        metrics = {
            "frames": len(refs),
            "switch_on_fraction": float(labels.mean()) if len(labels) else float("nan"),
            "train_loss": float(result.history[-1]["train/loss"])
            if result.history
            else float("nan"),
            "train_acc": float(result.history[-1].get("train/acc", float("nan")))
            if result.history
            else float("nan"),
            "history": result.history,
        }
        off = _off_tag_agreement(cfg, prepared, refs, labels)
        if off is not None:
            metrics["label_agrees_with_synthetic_truth"] = off
        h.log_metrics({k: v for k, v in metrics.items() if isinstance(v, float)})
    write_result_json(paths.report("train/audio_switch.json"), metrics)
    return metrics


def _off_tag_agreement(
    cfg: Config, prepared: PreparedSet, refs: list[tuple[int, int]], labels: np.ndarray
) -> float | None:
    """On the synthetic world, how often the tagger's label matches the known off-tag truth."""
    manifest = Path(cfg.paths.data) / "SYNTH_MANIFEST.json"
    if not manifest.is_file():
        return None
    import json

    ave = json.loads(manifest.read_text()).get("ave", {})
    truth = []
    for ci, _ in refs:
        entry = ave.get(prepared.clips[ci].clip_id)
        if entry is None:
            return None
        truth.append(0.0 if entry["off_tag_audio"] else 1.0)
    return float((np.array(truth) == labels).mean())
