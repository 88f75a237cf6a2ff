"""Stage method_maps@<set>: the pseudo-fixation method itself, run on the eye-tracking videos.

Why: Tables 1-3 score single-source CAMs, average vs selective SCAM and coarse vs fine SCAM
against human fixations, and the evaluate stage reports "the final pseudo-GT method applied
directly to the test videos" as a reference row.  Test videos carry no tag, so ``v`` is the S
net's top-1 class (Eq. 2 names the S net's tag); see ``avsal.stages.scam_maps``.
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
from avsal.stages.artifacts import Paths
from avsal.stages.scam_maps import compute_cams, fuse
from avsal.utils.io import write_result_json

__all__ = ["run"]


def run(cfg: Config, *, name: str) -> dict[str, Any]:
    """All method maps of every frame of fixation set ``name`` -> artifacts/method_maps/<name>."""
    t0 = time.perf_counter()
    prepared = artifacts.prepared(cfg, name)
    refs = prepared.frame_refs()
    coarse = compute_cams(cfg, "coarse", prepared, refs, None, nets=("s", "st", "sa", "sta_cls"))
    cams, probs, v = coarse["cams"], coarse["probs"], coarse["tags"]
    sel_c = fuse(cfg, cams[:, :3], probs[:, :3], v)
    avg_c = fuse(cfg, cams[:, :3], probs[:, :3], v, rule="average")
    boxes = np.array(
        [tuple(box_from_map(torch.from_numpy(m), k=cfg.scam.crop_k)) for m in sel_c], np.int32
    )
    fine = compute_cams(cfg, "fine", prepared, refs, None, boxes=boxes)
    sel_f = fuse(cfg, fine["cams"], fine["probs"], fine["tags"])
    avg_f = fuse(cfg, fine["cams"], fine["probs"], fine["tags"], rule="average")
    maps = np.concatenate(
        [
            np.asarray(cams, np.float16),  # coarse S, ST, SA, STA-cls
            np.stack([avg_c, sel_c, avg_f, sel_f], 1).astype(np.float16),
            np.asarray(fine["cams"], np.float16),  # fine S, ST, SA on the crops, pasted back
        ],
        axis=1,
    )  # [N, 11, H, W] in MAP_NAMES order
    ids = [(prepared.clips[ci].clip_id, i) for ci, i in refs]
    extra = {
        "boxes": boxes,
        "v_coarse": v,
        "v_fine": fine["tags"],
        # each net's top-1 class per frame [N, 3] (S, ST, SA): where Eq. 3 can act (stage claims)
        "top1_coarse": np.asarray(probs[:, :3].argmax(2), np.int16),
        "top1_fine": np.asarray(fine["probs"].argmax(2), np.int16),
    }
    MapStore(maps, ids, extra).save(Paths(cfg).method_maps(name))
    agree = float((fine["probs"].argmax(2) == fine["tags"][:, None]).mean())
    metrics = {
        "frames": len(refs),
        "fine_top1_agreement": agree,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_result_json(Paths(cfg).report(f"method_maps/{name}.json"), metrics)
    return metrics
