"""Stage prepare: decode every AVE clip and every fixation video once into the shard cache."""

from __future__ import annotations

import functools
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from avsal.config import Config
from avsal.data.ave import AVEDataset
from avsal.data.fixations import FixationSet
from avsal.data.prepared import DecodedItem, write_prepared
from avsal.data.video import decode_clip
from avsal.stages.artifacts import Paths
from avsal.utils.code import code_fingerprint
from avsal.utils.hashing import digest, file_digest

__all__ = ["run", "ave_job", "fixation_job"]


@dataclass(frozen=True)
class _AVEJob:
    clip_id: str
    path: str
    split: str
    segments: tuple[tuple[int, int, int], ...]  # (label, start, end)


def _audio_features(audio: np.ndarray, times: list[float], variant: str) -> np.ndarray:
    import torch

    from avsal.models.audio import frame_audio_features

    torch.set_num_threads(1)
    with torch.no_grad():
        feats = frame_audio_features(
            torch.from_numpy(np.ascontiguousarray(audio)), times, variant=variant
        )
    return feats.numpy().astype(np.float16)  # [T, 1, F, Ta]


#: the modules whose code shapes a prepared shard (decoding, resizing, spectrograms)
PREPARE_CODE = ("avsal.data", "avsal.models.audio", "avsal.stages.prepare")


def ave_job(job: _AVEJob, *, fps: float, size: tuple[int, int], variant: str) -> DecodedItem:
    """Decode one AVE clip: frames, audio features, and the labels of each frame's time."""
    clip = decode_clip(job.path, fps=fps, size=size, audio_rate=16000)
    times = [float(t) for t in clip.times]
    labels = [sorted({lab for lab, s, e in job.segments if s <= t < e}) for t in times]
    return DecodedItem(
        job.clip_id,
        clip.frames,
        _audio_features(clip.audio, times, variant),
        times,
        labels,
        job.split,
    )


def fixation_job(
    job: tuple[str, str, str, int, float], *, size: tuple[int, int], variant: str
) -> DecodedItem:
    """Read one fixation-set video (jpg frames at native fps) and its wav."""
    root, set_name, video, n_frames, fps = job
    v = FixationSet(root, set_name).video(video)
    h, w = size
    frames = np.stack(
        [cv2.resize(v.frame(i), (w, h), interpolation=cv2.INTER_AREA) for i in range(n_frames)]
    )
    times = [i / fps for i in range(n_frames)]
    audio = v.audio(rate=16000)
    gt_h, gt_w = v.frame(0).shape[:2]
    return DecodedItem(
        video,
        frames,
        _audio_features(audio, times, variant),
        times,
        [[] for _ in times],
        "",
        {"gt_size": [gt_h, gt_w], "fps": fps},
    )


def _fixation_signature(job: tuple[str, str, str, int, float]) -> str:
    """Identity of a fixation video's inputs: its frame folder listing and its wav."""
    root, set_name, video, _, _ = job
    v = FixationSet(root, set_name).video(video)
    return digest([file_digest(*sorted(v.frame_dir.iterdir())), file_digest(v.wav_path)])


def run(cfg: Config, *, sets: list[str] | None = None) -> dict[str, Any]:
    """Decode AVE and the fixation sets into ``artifacts/prepared``; returns counts and timing."""
    p = cfg.prepare
    size = (int(p.size[0]), int(p.size[1]))
    settings = {
        "fps": p.fps,
        "size": list(size),
        "audio_variant": p.audio_variant,
        "categories": list(cfg.ave.categories),
        "code": code_fingerprint(*PREPARE_CODE),
    }
    t0 = time.perf_counter()
    ds = AVEDataset(cfg.paths.ave_root, categories=cfg.ave.categories)
    jobs = []
    for split in ("train", "val", "test"):
        for rec in ds.split(split):
            segs = tuple((ds.label(s.category), s.start, s.end) for s in rec.segments)
            jobs.append(_AVEJob(rec.video_id, str(ds.video_path(rec.video_id)), split, segs))
    pool = ProcessPoolExecutor(max_workers=p.workers) if p.workers > 1 else None
    try:
        return _run(cfg, jobs, settings, size, sets, pool, t0)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _run(
    cfg: Config,
    jobs: list,
    settings: dict,
    size: tuple[int, int],
    sets: list[str] | None,
    pool,
    t0: float,
) -> dict[str, Any]:
    p = cfg.prepare
    ave = write_prepared(
        Paths(cfg).prepared("ave"),
        jobs,
        functools.partial(ave_job, fps=p.fps, size=size, variant=p.audio_variant),
        job_id=lambda j: j.clip_id,
        job_signature=lambda j: file_digest(j.path),
        settings=settings,
        shard_clips=p.shard_clips,
        executor=pool,
        in_flight=p.workers + 1,  # the clips being decoded + the one being written
        desc="prepare AVE",
    )
    metrics: dict[str, Any] = {
        "ave_clips": len(ave.clips),
        "ave_frames": sum(c.n_frames for c in ave.clips),
    }
    metrics["ave_labelled_frames"] = len(ave.frame_refs(labelled_only=True))
    for name in sets if sets is not None else cfg.datasets.fixation_sets:
        fs = FixationSet(cfg.paths.fixation_root, name)
        fjobs = [(str(fs.root), name, e.video, e.n_frames, e.fps) for e in fs.all_entries()]
        fset = write_prepared(
            Paths(cfg).prepared(name),
            fjobs,
            functools.partial(fixation_job, size=size, variant=p.audio_variant),
            job_id=lambda j: j[2],
            job_signature=_fixation_signature,
            settings={**settings, "set": name},
            shard_clips=p.shard_clips,
            executor=pool,
            in_flight=p.workers + 1,  # the clips being decoded + the one being written
            desc=f"prepare {name}",
        )
        metrics[f"{name}_frames"] = sum(c.n_frames for c in fset.clips)
    metrics["seconds"] = round(time.perf_counter() - t0, 2)
    return metrics
