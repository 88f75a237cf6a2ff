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
from avsal.data.map_writer import CHUNK_BYTES, MapStoreWriter, chunk_rows
from avsal.stages import artifacts
from avsal.stages.artifacts import MAP_NAMES, Paths
from avsal.stages.scam_maps import CamNets, fuse
from avsal.utils.io import write_result_json

__all__ = ["run"]


def run(cfg: Config, *, name: str, chunk_bytes: int = CHUNK_BYTES) -> dict[str, Any]:
    """All method maps of every frame of fixation set ``name`` -> artifacts/method_maps/<name>,
    chunk by chunk: a chunk's coarse CAMs, their fusions and crop boxes, then its fine CAMs."""
    t0 = time.perf_counter()
    prepared = artifacts.prepared(cfg, name)
    refs = prepared.frame_refs()
    h, w = prepared.frame_size
    coarse_nets = CamNets(cfg, "coarse", ("s", "st", "sa", "sta_cls"))
    fine_nets = CamNets(cfg, "fine")
    spec = {
        "boxes": ((4,), np.int32),
        "v_coarse": ((), np.int64),
        "v_fine": ((), np.int64),
        # each net's top-1 class per frame [N, 3] (S, ST, SA): where Eq. 3 can act (stage claims)
        "top1_coarse": ((3,), np.int16),
        "top1_fine": ((3,), np.int16),
    }
    step = chunk_rows(len(MAP_NAMES) * h * w * 4, cfg.runtime.infer_batch_size, chunk_bytes)
    agree = 0
    with MapStoreWriter(
        Paths(cfg).method_maps(name),
        len(refs),
        maps=((len(MAP_NAMES), h, w), np.float16),
        extra=spec,
    ) as out:
        for s in range(0, len(refs), step):
            chunk = refs[s : s + step]
            coarse = coarse_nets.rows(prepared, chunk, None)
            cams, probs, v = coarse["cams"], coarse["probs"], coarse["tags"]
            sel_c = fuse(cfg, cams[:, :3], probs[:, :3], v)
            avg_c = fuse(cfg, cams[:, :3], probs[:, :3], v, rule="average")
            boxes = np.array(
                [tuple(box_from_map(torch.from_numpy(m), k=cfg.scam.crop_k)) for m in sel_c],
                np.int32,
            ).reshape(-1, 4)
            fine = fine_nets.rows(prepared, chunk, None, boxes)
            sel_f = fuse(cfg, fine["cams"], fine["probs"], fine["tags"])
            avg_f = fuse(cfg, fine["cams"], fine["probs"], fine["tags"], rule="average")
            maps = np.concatenate(
                [
                    np.asarray(cams, np.float16),  # coarse S, ST, SA, STA-cls
                    np.stack([avg_c, sel_c, avg_f, sel_f], 1).astype(np.float16),
                    np.asarray(fine["cams"], np.float16),  # fine S, ST, SA on the crops
                ],
                axis=1,
            )  # [n, 11, H, W] in MAP_NAMES order
            top1_fine = fine["probs"].argmax(2)
            out.append(
                maps=maps,
                boxes=boxes,
                v_coarse=v,
                v_fine=fine["tags"],
                top1_coarse=probs[:, :3].argmax(2),
                top1_fine=top1_fine,
            )
            agree += int((top1_fine == fine["tags"][:, None]).sum())
        out.finish([(prepared.clips[ci].clip_id, i) for ci, i in refs])
    metrics = {
        "frames": len(refs),
        "fine_top1_agreement": agree / (3 * len(refs)) if refs else float("nan"),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    write_result_json(Paths(cfg).report(f"method_maps/{name}.json"), metrics)
    return metrics
