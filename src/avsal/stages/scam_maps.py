"""CAMs of the trained classification nets and their SCAM fusion: shared by the stages that
produce pseudo fixations (cams, scam) and by the stage that runs the method on the fixation sets
(method_maps).

``cam_chunks`` gives, per row, the three CAMs (Eq. 1) at the cached-frame size and the three
nets' softmax probabilities; ``fuse`` applies Eq. 2-3 (or the released code's / the average rule).
Untagged videos (the fixation sets) take ``v`` = the S net's top-1 class (Eq. 2 names the S net's
tag); Eq. 3 then zeroes a net whose own top-1 differs.  Fine-stage CAMs are computed on the crops
and pasted back into full-frame coordinates.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from avsal.cam import (
    Box,
    cam_and_probs,
    paste_back,
    selective_fusion_batch,
    temporal_postprocess,
)
from avsal.config import Config
from avsal.data.datasets import FrameDataset
from avsal.data.map_writer import CHUNK_BYTES, chunk_rows
from avsal.data.prepared import PreparedSet
from avsal.stages.artifacts import NETS, Paths
from avsal.stages.common import NET_INPUTS, infer, load_net, load_switch

__all__ = [
    "tagged_rows",
    "CamNets",
    "cam_chunks",
    "clip_groups",
    "fuse",
    "frame_max",
    "postprocess",
]


def tagged_rows(
    prepared: PreparedSet, split: str | None = None
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """One row per (labelled frame, tag): refs and tags (a two-tag frame gives two rows)."""
    refs, tags = [], []
    for ci, i in prepared.frame_refs(split=split, labelled_only=True):
        for tag in prepared.clips[ci].labels[i]:
            refs.append((ci, i))
            tags.append(tag)
    return refs, np.array(tags, np.int64)


class CamNets:
    """The nets of one SCAM stage, loaded once: CAMs and probabilities of any rows."""

    def __init__(self, cfg: Config, stage: str, nets: tuple[str, ...] = NETS) -> None:
        paths = Paths(cfg)
        switch = load_switch(cfg)
        self.cfg, self.stage = cfg, stage
        self.models = {
            kind: load_net(
                cfg,
                kind,
                paths.model(stage, kind),
                num_classes=len(cfg.ave.categories),
                switch=switch if kind in ("sa", "sta_cls") else None,
            )
            for kind in nets
        }

    def rows(
        self,
        prepared: PreparedSet,
        refs: list[tuple[int, int]],
        tags: np.ndarray | None,
        boxes: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """``cams`` float16 [n, nets, H, W] (cached-frame size), ``probs`` float32 [n, nets, C],
        ``tags`` [n] of ``refs``.  ``tags=None``: untagged video, ``v`` = the first net's top-1;
        ``boxes``: the inputs are crops (fine stage), each CAM pasted back into its box."""
        cfg = self.cfg
        size = (cfg.coarse if self.stage == "coarse" else cfg.fine).input_size
        full = prepared.frame_size
        cams = np.zeros((len(refs), len(self.models), *full), np.float16)
        probs = np.zeros((len(refs), len(self.models), len(cfg.ave.categories)), np.float32)
        v = None if tags is None else np.asarray(tags, np.int64)
        for k, (kind, model) in enumerate(self.models.items()):
            clip_frames = cfg.model.clip_frames if kind in ("st", "sta_cls") else 1
            ds = _IndexedFrames(
                FrameDataset(prepared, refs, input_size=size, clip_frames=clip_frames, boxes=boxes),
                v,
            )
            out_size = size if boxes is not None else full

            def fn(m, b, kind=kind, out_size=out_size):
                cam, p, cls = cam_and_probs(
                    m, {key: b[key] for key in NET_INPUTS[kind]}, b["v"], out_size=tuple(out_size)
                )
                return {"cam": cam, "probs": p, "cls": cls}

            res = infer(
                model,
                ds,
                fn,
                batch_size=cfg.runtime.infer_batch_size,
                device=cfg.runtime.device,
                desc=f"CAM {self.stage}-{kind}",
            )
            if v is None:
                v = res["cls"].astype(np.int64)
            probs[:, k] = res["probs"]
            if boxes is None:
                cams[:, k] = res["cam"].astype(np.float16)
            else:
                for r in range(len(refs)):
                    cams[r, k] = (
                        paste_back(torch.from_numpy(res["cam"][r]), _box(boxes[r]), full)
                        .numpy()
                        .astype(np.float16)
                    )
        if v is None:  # no rows
            v = np.zeros(0, np.int64)
        return {"cams": cams, "probs": probs, "tags": v}


def cam_chunks(
    cfg: Config,
    stage: str,
    prepared: PreparedSet,
    refs: list[tuple[int, int]],
    tags: np.ndarray | None,
    *,
    boxes: np.ndarray | None = None,
    nets: tuple[str, ...] = NETS,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[dict[str, np.ndarray]]:
    """:meth:`CamNets.rows` of ``refs`` chunk by chunk, in row order (what a stage writes)."""
    cam_nets = CamNets(cfg, stage, nets)
    h, w = prepared.frame_size
    step = chunk_rows(len(nets) * h * w * 4, cfg.runtime.infer_batch_size, chunk_bytes)
    for s in range(0, len(refs), step):
        e = min(s + step, len(refs))
        yield cam_nets.rows(
            prepared,
            refs[s:e],
            None if tags is None else tags[s:e],
            None if boxes is None else boxes[s:e],
        )


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


def fuse(
    cfg: Config, cams: np.ndarray, probs: np.ndarray, tags: np.ndarray, *, rule: str | None = None
) -> np.ndarray:
    """SCAM (Eq. 2) of every row: [N, 3, H, W] -> float32 [N, H, W] in [0, 1]."""
    out = np.zeros((len(cams), *cams.shape[2:]), np.float32)
    for s in range(0, len(cams), 256):
        c = torch.from_numpy(np.array(cams[s : s + 256], np.float32))
        p = torch.from_numpy(np.array(probs[s : s + 256], np.float32))
        out[s : s + 256] = selective_fusion_batch(
            c,
            p,
            torch.from_numpy(np.array(tags[s : s + 256])),
            lam=cfg.scam.lam,
            rule=rule or cfg.scam.rule,
        ).numpy()
    return out


def frame_max(
    refs: list[tuple[str, int]], maps: np.ndarray
) -> tuple[list[tuple[str, int]], np.ndarray]:
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
        sm = temporal_postprocess(
            torch.from_numpy(maps[rows]),
            window=cfg.scam.post_window,
            zero_below_mean_mult=cfg.scam.post_mult,
            normalize=True,
        )
        out[rows] = sm.numpy()
    return out


def clip_groups(refs: list[tuple[str, int]], rows: int) -> Iterator[tuple[int, int]]:
    """Row ranges [start, end) of whole clips (a clip's rows are contiguous), about ``rows``
    each: the chunks of a per-frame step that needs a clip's frames together (temporal smoothing,
    the max over a frame's tags)."""
    start, done = 0, set()
    for k in range(1, len(refs) + 1):
        at_clip_end = k == len(refs) or refs[k][0] != refs[k - 1][0]
        if at_clip_end:
            if refs[k - 1][0] in done:
                raise ValueError(f"rows of clip {refs[k - 1][0]} are not contiguous")
            done.add(refs[k - 1][0])
        if at_clip_end and (k - start >= rows or k == len(refs)):
            yield start, k
            start = k
