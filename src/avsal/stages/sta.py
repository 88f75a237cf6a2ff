"""Stages train_sta and predict@<set>: the STA fixation network (Sec. 3.8, Eq. 5-6).

STA learns from the final pseudo fixations only (no tags, no human fixations), then predicts a
fixation map for every frame of any video; here, the six eye-tracking sets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from avsal.config import Config
from avsal.data.datasets import FrameDataset, MapStore
from avsal.data.prepared import PreparedSet
from avsal.stages.common import (
    Paths,
    build_net,
    file_digest,
    fit,
    infer,
    load_net,
    tracker_for,
    train_config,
)
from avsal.stages.prepare import prepared_dir
from avsal.stages.train_cls import load_switch
from avsal.utils.io import write_result_json

__all__ = ["VARIANTS", "STATraining", "setup_training", "run_train", "run_predict", "predict_set", "uses_switch", "pseudo_split", "serving_net"]


VARIANTS = ("sta", "sta_noswitch")


def uses_switch(cfg: Config, variant: str) -> bool:
    """``sta`` is the main net (with the audio switch unless disabled); ``sta_noswitch`` the ablation."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown STA variant {variant!r}; expected one of {VARIANTS}")
    return variant == "sta" and cfg.sta.audio_switch and cfg.audio_switch.enabled


def serving_net(*, params: dict[str, Any], with_switch: bool) -> torch.nn.Module:
    """Rebuild the STA net (and its frozen switch) for the model registry: weights load after."""
    from avsal.config import Config, from_dict

    cfg = from_dict(Config, params)
    switch = build_net(cfg, "audio_switch", num_classes=None) if with_switch else None
    return build_net(cfg, "sta", num_classes=None, switch=switch)


def pseudo_split(cfg: Config, prepared: PreparedSet, split: str) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Refs of ``split`` frames that carry an informative final pseudo-GT map, and those maps."""
    store = MapStore.load(Paths(cfg).pseudo("fine"))
    refs = store.refs_in(prepared)
    informative = np.asarray(store.extra["informative"], bool)
    keep = [k for k, (ci, _) in enumerate(refs) if prepared.clips[ci].split == split and informative[k]]
    return [refs[k] for k in keep], np.asarray(store.maps)[keep]


def sta_loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, Any]]:
    """Eq. 6: binary cross entropy between Dec(STA) and the pseudo-GT (on logits, for stability)."""
    from avsal.models import sta_loss

    logits = model.forward_logits(frame=batch["frame"], clip=batch["clip"], audio=batch["audio"])
    return sta_loss(logits.float(), batch["pseudo"].float()), {}


def _val_bce(model: torch.nn.Module, ds: FrameDataset, cfg: Config) -> float:
    if len(ds) == 0:
        return float("nan")
    def fn(m, b):
        logits = m.forward_logits(frame=b["frame"], clip=b["clip"], audio=b["audio"]).float()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, b["pseudo"].float(), reduction="none")
        return {"l": bce.flatten(1).mean(1)}

    out = infer(model, ds, fn,
                batch_size=cfg.runtime.infer_batch_size, device=cfg.runtime.device, desc="val sta")
    return float(out["l"].mean())


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
    prepared = PreparedSet(prepared_dir(cfg, "ave"))
    refs, maps = pseudo_split(cfg, prepared, "train")
    vrefs, vmaps = pseudo_split(cfg, prepared, "val")
    kw = dict(input_size=cfg.sta.input_size, clip_frames=cfg.model.clip_frames)
    switch = load_switch(cfg) if uses_switch(cfg, variant) else None
    # both variants start from the same seed, so the switch is the only difference
    tcfg = train_config(cfg, cfg.sta.train, checkpoint_dir=paths.checkpoints("sta", variant), export_path=paths.model("sta", variant), seed_offset=300,
                        inputs=[variant, cfg.sta, switch is not None, file_digest(prepared.root / "index.json", paths.pseudo("fine") / "maps.npy")])
    return STATraining(
        train_set=FrameDataset(prepared, refs, pseudo=maps, hflip=True, **kw),
        val_set=FrameDataset(prepared, vrefs, pseudo=vmaps, **kw),
        model=build_net(cfg, "sta", num_classes=None, switch=switch, seed_offset=300),  # same init for both variants
        config=tcfg,
        switch=switch,
    )


def run_train(cfg: Config, *, variant: str = "sta", track: bool = True) -> dict[str, Any]:
    """Train STA on the pseudo fixations of the AVE train split; export its state_dict."""
    paths = Paths(cfg)
    st = setup_training(cfg, variant=variant)
    train_set, val_set, model, tcfg, switch = st.train_set, st.val_set, st.model, st.config, st.switch
    name = variant
    t0 = time.perf_counter()
    params = {"variant": name, "audio_switch": switch is not None, "sta": cfg.sta, "model": cfg.model, "scam": cfg.scam, "n_train_frames": len(train_set)}
    with tracker_for(cfg, f"train_sta@{name}", params=params, enabled=track) as h:
        result = fit(
            model, train_set, sta_loss_fn, tcfg,
            eval_fn=lambda m, e: {"val_bce": _val_bce(m, val_set, cfg)},
            on_epoch_end=lambda e, rec: h.log_metrics({k: v for k, v in rec.items() if isinstance(v, float)}, step=e),
        )
        metrics = {
            "train_bce": float(result.history[-1]["train/loss"]) if result.history else float("nan"),
            "val_bce": _val_bce(model, val_set, cfg),
            "n_train": len(train_set),
            "frames_per_s": float(result.frames_per_s),
            "seconds": round(time.perf_counter() - t0, 2),
            "history": result.history,
        }
        h.log_metrics({k: v for k, v in metrics.items() if isinstance(v, float)})
        h.log_artifact(str(paths.model("sta", name)))
        if variant == "sta":
            example = {k: v[None].numpy() for k, v in train_set[0].items() if k in ("frame", "clip", "audio")}
            h.register_torch_model(
                name=f"{cfg.project.name}-sta",
                state_dict_path=paths.model("sta", name),
                builder="avsal.stages.sta:serving_net",
                builder_kwargs={"params": cfg.to_dict(), "with_switch": switch is not None},
                input_example=example,
            )
    write_result_json(paths.report(f"train/{name}.json"), metrics)
    return metrics


def predict_set(cfg: Config, name: str, *, variant: str = "sta") -> MapStore:
    """STA predictions [N, H, W] (cached-frame size, float16) for every frame of a fixation set."""
    prepared = PreparedSet(prepared_dir(cfg, name))
    refs = prepared.frame_refs()
    switch = load_switch(cfg) if uses_switch(cfg, variant) else None
    model = load_net(cfg, "sta", Paths(cfg).model("sta", variant), num_classes=None, switch=switch)
    ds = FrameDataset(prepared, refs, input_size=cfg.sta.input_size, clip_frames=cfg.model.clip_frames)
    full = prepared.frame_size

    def fn(m, b):
        p = m(frame=b["frame"], clip=b["clip"], audio=b["audio"])  # [B, 1, h, w] in (0, 1)
        return {"map": torch.nn.functional.interpolate(p.float(), size=full, mode="bilinear", align_corners=False)[:, 0]}

    out = infer(model, ds, fn, batch_size=cfg.runtime.infer_batch_size, device=cfg.runtime.device, desc=f"predict {name}")
    ids = [(prepared.clips[ci].clip_id, i) for ci, i in refs]
    return MapStore(out["map"].astype(np.float16), ids)


def run_predict(cfg: Config, *, name: str, variant: str = "sta") -> dict[str, Any]:
    """Stage predict@<set>: write the STA predictions of one fixation set."""
    t0 = time.perf_counter()
    store = predict_set(cfg, name, variant=variant)
    folder = Paths(cfg).predictions(f"{variant}/{name}")
    store.save(folder)
    return {"frames": len(store.refs), "seconds": round(time.perf_counter() - t0, 2), "path": str(folder)}
