"""Stages cams@{coarse,fine} and scam@{coarse,fine}: CAMs of S, ST, SA, then selective fusion.

``cams`` stores, for every labelled AVE frame and each of its tags, the three CAMs (Eq. 1) at
the cached-frame size and the three nets' softmax probabilities.  ``scam`` fuses them (Eq. 2-3,
or the released code's / the average rule) into pseudo fixations: per frame the max over its
tags.  The coarse SCAM also yields the crop boxes of the fine stage (binarised at k x mean).
The fine CAMs are computed on the crops and pasted back into full-frame coordinates.

The same functions serve untagged videos (the fixation sets): there ``v`` is the S net's top-1
class (Eq. 2 names the S net's tag), all three CAMs are taken for ``v``, and Eq. 3 zeroes a net
whose own top-1 differs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from avsal.cam import (
    Box,
    box_from_map,
    cam_from_features,
    minmax_normalize,
    paste_back,
    selective_fusion_batch,
    temporal_postprocess,
)
from avsal.config import Config
from avsal.data.datasets import FrameDataset, MapStore
from avsal.data.prepared import PreparedSet
from avsal.stages.common import NET_INPUTS, Paths, infer, load_net
from avsal.stages.prepare import prepared_dir
from avsal.stages.train_cls import NETS, coarse_boxes_for, load_switch
from avsal.utils.io import write_result_json

__all__ = ["compute_cams", "fuse", "run_cams", "run_scam", "tagged_rows"]


def tagged_rows(prepared: PreparedSet, split: str | None = None) -> tuple[list[tuple[int, int]], np.ndarray]:
    """One row per (labelled frame, tag): refs and tags (a two-tag frame gives two rows)."""
    refs, tags = [], []
    for ci, i in prepared.frame_refs(split=split, labelled_only=True):
        for tag in prepared.clips[ci].labels[i]:
            refs.append((ci, i))
            tags.append(tag)
    return refs, np.array(tags, np.int64)


def compute_cams(
    cfg: Config,
    stage: str,
    prepared: PreparedSet,
    refs: list[tuple[int, int]],
    tags: np.ndarray | None,
    *,
    boxes: np.ndarray | None = None,
    nets: tuple[str, ...] = NETS,
) -> dict[str, np.ndarray]:
    """CAMs [N, len(nets), H, W] (cached-frame size), probs [N, len(nets), C], tags [N].

    ``tags=None``: untagged video, ``v`` = the first net's top-1.  ``boxes``: the inputs are
    crops (fine stage) and each CAM is pasted back into its box.
    """
    paths = Paths(cfg)
    size = (cfg.coarse if stage == "coarse" else cfg.fine).input_size
    full = prepared.frame_size
    n_classes = len(cfg.ave.categories)
    switch = load_switch(cfg)
    cams = np.zeros((len(refs), len(nets), *full), np.float16)
    probs = np.zeros((len(refs), len(nets), n_classes), np.float32)
    v = None if tags is None else np.asarray(tags, np.int64)
    for k, kind in enumerate(nets):
        model = load_net(cfg, kind, paths.model(stage, kind), num_classes=n_classes, switch=switch if kind in ("sa", "sta_cls") else None)
        clip_frames = cfg.model.clip_frames if kind in ("st", "sta_cls") else 1
        ds = _IndexedFrames(FrameDataset(prepared, refs, input_size=size, clip_frames=clip_frames, boxes=boxes), v)
        out_size = size if boxes is not None else full

        def fn(m, b, kind=kind, out_size=out_size):
            inputs = {key: b[key] for key in NET_INPUTS[kind]}
            feats = m.forward_features(**inputs)
            p = torch.softmax(m.forward_head(feats).float(), dim=1)
            cls = b["v"] if (b["v"] >= 0).all() else p.argmax(1)
            raw = cam_from_features(feats.float(), m.get_classifier().weight.float(), cls)  # [B, h, w]
            up = torch.nn.functional.interpolate(raw[:, None], size=tuple(out_size), mode="bilinear", align_corners=False)
            return {"cam": minmax_normalize(up[:, 0]), "probs": p, "cls": cls}

        res = infer(model, ds, fn, batch_size=cfg.runtime.infer_batch_size, device=cfg.runtime.device, desc=f"CAM {stage}-{kind}")
        if v is None:
            v = res["cls"].astype(np.int64)
        probs[:, k] = res["probs"]
        if boxes is None:
            cams[:, k] = res["cam"].astype(np.float16)
        else:
            for r in range(len(refs)):
                cams[r, k] = paste_back(torch.from_numpy(res["cam"][r]), _box(boxes[r]), full).numpy().astype(np.float16)
    return {"cams": cams, "probs": probs, "tags": v}


def _box(b: np.ndarray) -> Box:
    return Box(*(int(x) for x in b))


class _IndexedFrames(torch.utils.data.Dataset):
    """Adds the class to explain (``v``, or -1 = use the top-1) to each sample."""

    def __init__(self, base: FrameDataset, v: np.ndarray | None) -> None:
        self.base, self.v = base, v

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        s = self.base[k]
        s["v"] = torch.tensor(-1 if self.v is None else int(self.v[k]))
        return s


def fuse(cfg: Config, cams: np.ndarray, probs: np.ndarray, tags: np.ndarray, *, rule: str | None = None) -> np.ndarray:
    """SCAM (Eq. 2) of every row: [N, 3, H, W] -> float32 [N, H, W] in [0, 1]."""
    out = np.zeros((len(cams), *cams.shape[2:]), np.float32)
    for s in range(0, len(cams), 256):
        c = torch.from_numpy(np.array(cams[s : s + 256], np.float32))
        p = torch.from_numpy(np.array(probs[s : s + 256], np.float32))
        out[s : s + 256] = selective_fusion_batch(c, p, torch.from_numpy(np.array(tags[s : s + 256])), lam=cfg.scam.lam, rule=rule or cfg.scam.rule).numpy()
    return out


def run_cams(cfg: Config, *, stage: str) -> dict[str, Any]:
    """CAMs of the three nets of ``stage`` for every (labelled AVE frame, tag)."""
    t0 = time.perf_counter()
    prepared = PreparedSet(prepared_dir(cfg, "ave"))
    refs, tags = tagged_rows(prepared)
    boxes = coarse_boxes_for(cfg, prepared, refs) if stage == "fine" else None
    res = compute_cams(cfg, stage, prepared, refs, tags, boxes=boxes)
    ids = [(prepared.clips[ci].clip_id, i) for ci, i in refs]
    MapStore(res["cams"], ids, {"probs": res["probs"], "tags": res["tags"]}).save(Paths(cfg).cams(stage))
    top1 = res["probs"].argmax(2) == res["tags"][:, None]  # [N, 3]
    metrics = {f"top1_is_tag_{n}": float(top1[:, k].mean()) for k, n in enumerate(NETS)}
    metrics.update(rows=len(refs), seconds=round(time.perf_counter() - t0, 2))
    write_result_json(Paths(cfg).report(f"cams/{stage}.json"), metrics)
    return metrics


def frame_max(refs: list[tuple[str, int]], maps: np.ndarray) -> tuple[list[tuple[str, int]], np.ndarray]:
    """Collapse rows of the same frame (two tags) by a pixel-wise max; keeps first-seen order."""
    order: dict[tuple[str, int], int] = {}
    for r in refs:
        order.setdefault(r, len(order))
    out = np.zeros((len(order), *maps.shape[1:]), np.float32)
    for k, r in enumerate(refs):
        j = order[r]
        out[j] = np.maximum(out[j], maps[k])
    return list(order), out


def postprocess(cfg: Config, refs: list[tuple[str, int]], maps: np.ndarray) -> np.ndarray:
    """The released code's temporal smoothing, per clip in frame order (only when enabled)."""
    if not cfg.scam.temporal_postprocess:
        return maps
    out = maps.copy()
    by_clip: dict[str, list[int]] = {}
    for k, (cid, _) in enumerate(refs):
        by_clip.setdefault(cid, []).append(k)
    for rows in by_clip.values():
        rows = sorted(rows, key=lambda k: refs[k][1])
        sm = temporal_postprocess(torch.from_numpy(maps[rows]), window=cfg.scam.post_window, zero_below_mean_mult=cfg.scam.post_mult, normalize=True)
        out[rows] = sm.numpy()
    return out


def run_scam(cfg: Config, *, stage: str) -> dict[str, Any]:
    """Pseudo fixations of ``stage`` (float16, lossless .npy) and, for coarse, the crop boxes.

    A frame where Eq. 3 zeroes every net (the tag is no net's top-1) fuses to a constant map:
    it carries no pseudo fixation.  It stays in the store flagged ``informative = False`` (its
    coarse box is the whole frame) and is left out of STA training and of the validity suite.
    """
    store = MapStore.load(Paths(cfg).cams(stage))
    fused = fuse(cfg, store.maps, store.extra["probs"], store.extra["tags"])
    refs, maps = frame_max(store.refs, fused)
    maps = postprocess(cfg, refs, maps)
    informative = (maps.max(axis=(1, 2)) - maps.min(axis=(1, 2))) > 1e-3
    extra = {"informative": informative}
    if stage == "coarse":
        extra["boxes"] = np.array([tuple(box_from_map(torch.from_numpy(m), k=cfg.scam.crop_k)) for m in maps], np.int32)
    MapStore(maps.astype(np.float16), refs, extra).save(Paths(cfg).pseudo(stage))
    metrics: dict[str, Any] = {
        "frames": len(refs),
        "informative_fraction": float(informative.mean()) if len(refs) else float("nan"),
        "mean": float(maps.mean()),
        "frac_above_half": float((maps > 0.5).mean()),
    }
    if "boxes" in extra:
        b = extra["boxes"]
        h, w = maps.shape[1:]
        metrics["box_area_fraction"] = float(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).mean() / (h * w))
    write_result_json(Paths(cfg).report(f"scam/{stage}.json"), metrics)
    return metrics
