"""Stages cams@{coarse,fine} and scam@{coarse,fine}: CAMs of S, ST, SA, then selective fusion.

``cams`` stores, for every labelled AVE frame and each of its tags, the three CAMs (Eq. 1) at
the cached-frame size and the three nets' softmax probabilities.  ``scam`` fuses them (Eq. 2-3,
or the released code's / the average rule) into pseudo fixations: per frame the max over its
tags.  The coarse SCAM also yields the crop boxes of the fine stage (binarised at k x mean).
The CAM and fusion code is :mod:`avsal.stages.scam_maps` (method_maps runs it too).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from avsal.cam import box_from_map
from avsal.config import Config
from avsal.data.datasets import MapStore
from avsal.stages import artifacts
from avsal.stages.artifacts import NETS, Paths, coarse_boxes_for
from avsal.stages.scam_maps import compute_cams, frame_max, fuse, postprocess, tagged_rows
from avsal.utils.io import write_result_json

__all__ = ["run_cams", "run_scam"]


def run_cams(cfg: Config, *, stage: str) -> dict[str, Any]:
    """CAMs of the three nets of ``stage`` for every (labelled AVE frame, tag)."""
    t0 = time.perf_counter()
    prepared = artifacts.prepared(cfg, "ave")
    refs, tags = tagged_rows(prepared)
    boxes = coarse_boxes_for(cfg, prepared, refs) if stage == "fine" else None
    res = compute_cams(cfg, stage, prepared, refs, tags, boxes=boxes)
    ids = [(prepared.clips[ci].clip_id, i) for ci, i in refs]
    MapStore(res["cams"], ids, {"probs": res["probs"], "tags": res["tags"]}).save(
        Paths(cfg).cams(stage)
    )
    top1 = res["probs"].argmax(2) == res["tags"][:, None]  # [N, 3]
    metrics = {f"top1_is_tag_{n}": float(top1[:, k].mean()) for k, n in enumerate(NETS)}
    metrics.update(rows=len(refs), seconds=round(time.perf_counter() - t0, 2))
    write_result_json(Paths(cfg).report(f"cams/{stage}.json"), metrics)
    return metrics


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
        extra["boxes"] = np.array(
            [tuple(box_from_map(torch.from_numpy(m), k=cfg.scam.crop_k)) for m in maps], np.int32
        )
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
        metrics["box_area_fraction"] = float(
            ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).mean() / (h * w)
        )
    write_result_json(Paths(cfg).report(f"scam/{stage}.json"), metrics)
    return metrics
