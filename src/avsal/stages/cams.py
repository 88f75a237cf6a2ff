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
from avsal.data.map_writer import CHUNK_BYTES, MapStoreWriter, chunk_rows
from avsal.stages import artifacts
from avsal.stages.artifacts import NETS, Paths, coarse_boxes_for
from avsal.stages.scam_maps import (
    cam_chunks,
    clip_groups,
    frame_max,
    fuse,
    postprocess,
    tagged_rows,
)
from avsal.utils.io import write_result_json

__all__ = ["run_cams", "run_scam"]


def run_cams(cfg: Config, *, stage: str, chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
    """CAMs of the three nets of ``stage`` for every (labelled AVE frame, tag), written to the
    store chunk by chunk (``chunk_bytes`` of working memory; the bytes do not depend on it)."""
    t0 = time.perf_counter()
    prepared = artifacts.prepared(cfg, "ave")
    refs, tags = tagged_rows(prepared)
    boxes = coarse_boxes_for(cfg, prepared, refs) if stage == "fine" else None
    h, w = prepared.frame_size
    n_nets, n_classes = len(NETS), len(cfg.ave.categories)
    ids = [(prepared.clips[ci].clip_id, i) for ci, i in refs]
    hits = np.zeros(n_nets, np.int64)  # rows where each net's top-1 is the tag
    spec = {"probs": ((n_nets, n_classes), np.float32), "tags": ((), np.int64)}
    with MapStoreWriter(
        Paths(cfg).cams(stage), len(refs), maps=((n_nets, h, w), np.float16), extra=spec
    ) as out:
        chunks = cam_chunks(cfg, stage, prepared, refs, tags, boxes=boxes, chunk_bytes=chunk_bytes)
        for res in chunks:
            out.append(maps=res["cams"], probs=res["probs"], tags=res["tags"])
            hits += (res["probs"].argmax(2) == res["tags"][:, None]).sum(0)
        out.finish(ids)
    metrics = {
        f"top1_is_tag_{n}": float(hits[k] / len(refs)) if refs else float("nan")
        for k, n in enumerate(NETS)
    }
    metrics.update(rows=len(refs), seconds=round(time.perf_counter() - t0, 2))
    write_result_json(Paths(cfg).report(f"cams/{stage}.json"), metrics)
    return metrics


def run_scam(cfg: Config, *, stage: str, chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
    """Pseudo fixations of ``stage`` (float16, lossless .npy) and, for coarse, the crop boxes.

    A frame where Eq. 3 zeroes every net (the tag is no net's top-1) fuses to a constant map:
    it carries no pseudo fixation.  It stays in the store flagged ``informative = False`` (its
    coarse box is the whole frame) and is left out of STA training and of the validity suite.
    Fused whole clips at a time (a frame's tags and the temporal smoothing stay together) and
    written chunk by chunk.
    """
    store = MapStore.load(Paths(cfg).cams(stage))
    frames = list(dict.fromkeys(store.refs))  # one row per frame, first-seen order
    h, w = store.maps.shape[2:]
    spec: dict[str, Any] = {"informative": ((), bool)}
    if stage == "coarse":
        spec["boxes"] = ((4,), np.int32)
    total, above, n_informative, box_area = 0.0, 0, 0, 0
    rows = chunk_rows(h * w * 4 * store.maps.shape[1], 1, chunk_bytes)
    with MapStoreWriter(
        Paths(cfg).pseudo(stage), len(frames), maps=((h, w), np.float16), extra=spec
    ) as out:
        for s, e in clip_groups(store.refs, rows):
            fused = fuse(cfg, store.maps[s:e], store.extra["probs"][s:e], store.extra["tags"][s:e])
            refs, maps = frame_max(store.refs[s:e], fused)
            maps = postprocess(cfg, refs, maps)
            informative = (maps.max(axis=(1, 2)) - maps.min(axis=(1, 2))) > 1e-3
            extra: dict[str, np.ndarray] = {"informative": informative}
            if stage == "coarse":
                b = np.array(
                    [tuple(box_from_map(torch.from_numpy(m), k=cfg.scam.crop_k)) for m in maps],
                    np.int32,
                ).reshape(-1, 4)
                extra["boxes"] = b
                box_area += int(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).sum())
            out.append(maps=maps.astype(np.float16), **extra)
            total += float(maps.sum(dtype=np.float64))
            above += int((maps > 0.5).sum())
            n_informative += int(informative.sum())
        out.finish(frames)
    n = len(frames)
    metrics: dict[str, Any] = {
        "frames": n,
        "informative_fraction": n_informative / n if n else float("nan"),
        "mean": total / (n * h * w) if n else float("nan"),
        "frac_above_half": above / (n * h * w) if n else float("nan"),
    }
    if stage == "coarse":
        metrics["box_area_fraction"] = box_area / n / (h * w) if n else float("nan")
    write_result_json(Paths(cfg).report(f"scam/{stage}.json"), metrics)
    return metrics
