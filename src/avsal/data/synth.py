"""The embedded synthetic audio-visual world, written in exactly the real dataset layouts.

Why it exists: the method needs AVE (4,143 clips) and six eye-tracking sets that cannot ship with
the project.  This generator writes a small world in the SAME on-disk formats (mp4 with H.264 +
AAC, the annotation files, STAViS frames/wav/maps/fixMaps/fold lists), so every reader, stage and
test runs on a fresh machine, and the paper's claims become testable:

* each category has a body shape SHARED with other categories (not discriminative) and a small
  category-unique part (the paper's "deer head": a striped disc with the category's hue), and a
  sound signature (harmonics of a category pitch, amplitude-modulated at a category rate);
* the unique part pulses with the sound's envelope (audio-visual synchrony); the object moves;
* silent distractor bodies, some moving, on a textured, slowly panning background; in a fraction
  of clips also a silent object of ANOTHER category (its unique part shown, never heard);
* the event occupies ``[StartTime, EndTime)``: the object is present and sounding only then;
* a fraction of clips (AVE and eye-tracking videos alike) carry off-tag audio (another
  category's sound; the part does not pulse), which the audio switch must learn to ignore;
* virtual observers fixate mostly the sounding object's unique part, sometimes moving
  distractors, otherwise centre-biased points, with temporal persistence;
* the six sets differ in statistics; one (Coutrot2's place) shows categories unseen in training.

Everything is drawn from one ``numpy.random.Generator`` per clip, seeded from (seed, clip index),
and all writers avoid timestamps, so the same seed and pinned packages give identical bytes, and
the clips and fixation videos can be rendered in parallel processes (``workers``) with the same
bytes as one process: what a clip draws depends on its own generator only.  ``synth.formats``
(the scale world) gives clips AVE's mix of frame sizes and rates, one format drawn per clip.
"""

from __future__ import annotations

import json
import math
import shutil
import string
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from avsal.config import FIXATION_SETS, SynthConfig
from avsal.data.audio import wav_bytes
from avsal.data.ave import HEADER
from avsal.data.synth_files import jpg_bytes, mat_bytes, write_mp4
from avsal.data.synth_scene import (
    SceneObject,
    background,
    category_look,
    make_object,
    render_frame,
    signature,
    silent_part_object,
)

__all__ = ["generate_world", "clip_format", "SynthResult"]

_ID_CHARS = string.ascii_letters + string.digits + "-_"


# ------------------------------------------------------------------------------------------------
# AVE-like set


@dataclass
class SynthResult:
    root: Path
    n_clips: int = 0
    n_clip_frames: int = 0
    n_fixation_videos: int = 0
    n_fixation_frames: int = 0
    bytes: int = 0
    manifest: dict = field(default_factory=dict)


def _video_id(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        vid = "".join(_ID_CHARS[i] for i in rng.integers(len(_ID_CHARS), size=11))
        if vid not in taken:
            taken.add(vid)
            return vid


def clip_format(cfg: SynthConfig, index: int) -> tuple[int, int, float]:
    """(width, height, fps) of AVE clip ``index``: drawn from ``cfg.formats`` by share, from a
    generator of its own (so the embedded world, without formats, draws nothing extra)."""
    if not cfg.formats:
        return cfg.width, cfg.height, cfg.fps
    share = np.array([f.share for f in cfg.formats], np.float64)
    pick = np.random.default_rng([cfg.seed, 4, index]).choice(len(share), p=share / share.sum())
    f = cfg.formats[int(pick)]
    return f.width, f.height, f.fps


def _ave_clip(
    rng: np.random.Generator,
    cfg: SynthConfig,
    cats: list[str],
    off_tag: str | None,
    fmt: tuple[int, int, float],
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int, int]], dict]:
    """Render one AVE-like clip; returns frames, audio, segments and a manifest entry."""
    W, H, fps = fmt
    D = cfg.clip_seconds
    bg, pan = background(rng, H, W)
    objects: list[SceneObject] = []
    segments = []
    for cat in cats:
        length = int(rng.integers(max(1, D // 2), D + 1))
        start = int(rng.integers(0, D - length + 1))
        look = category_look(cat)
        obj = make_object(rng, look, H, W, moving=True)
        obj.visible = (float(start), float(start + length))
        obj.pulsing = off_tag is None
        objects.append(obj)
        segments.append((cat, start, start + length))
    lo, hi = cfg.distractors
    for _ in range(int(rng.integers(lo, hi + 1))):
        moving = bool(rng.random() < cfg.moving_distractor_fraction)
        objects.insert(0, make_object(rng, None, H, W, moving=moving))
    silent = silent_part_object(rng, cfg, H, W, exclude=cats)
    if silent is not None:
        objects.insert(0, silent)
    n_frames = int(round(D * fps))
    frames = np.stack([render_frame(k / fps, bg, pan, objects, H, W) for k in range(n_frames)])
    ta = np.arange(D * cfg.audio_rate) / cfg.audio_rate
    audio = rng.normal(0, 0.01, size=ta.shape)
    for obj, (_cat, s, e) in zip([o for o in objects if o.look and not o.silent], segments):
        sound_look = category_look(off_tag) if off_tag else obj.look
        on = (ta >= s) & (ta < e)
        audio[on] += signature(sound_look, ta[on], obj.phase)
    entry = {
        "segments": segments,
        "off_tag_audio": off_tag,
        "silent_part": silent.look.name if silent else None,
    }
    if cfg.formats:
        entry["format"] = [W, H, fps]
    return frames, audio.astype(np.float32), segments, entry


def _render_ave_clip(job: tuple) -> tuple[list[tuple[str, int, int]], dict, int]:
    """Worker: render and write clip ``index``, continuing its generator from ``state``."""
    cfg, index, cats, off_tag, state, path = job
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    fmt = clip_format(cfg, index)
    frames, audio, segments, entry = _ave_clip(rng, cfg, cats, off_tag, fmt)
    write_mp4(path, frames, fmt[2], audio, cfg.audio_rate)
    return segments, entry, len(frames)


def _init_worker() -> None:
    cv2.setNumThreads(1)  # the processes share the cores (thread_share's rule)


def _pmap(fn: Callable[[Any], Any], jobs: list, workers: int, desc: str) -> Iterator[Any]:
    """``map(fn, jobs)`` in order, over ``workers`` processes (in this one when 1), with a bar."""
    bar = tqdm(total=len(jobs), desc=desc, unit="item", leave=False)
    results: Iterable[Any]
    if workers <= 1 or len(jobs) <= 1:
        results = map(fn, jobs)
        for r in results:
            bar.update()
            yield r
    else:
        ctx = get_context("fork")  # as prepare's pool; spawn would re-run a script's __main__
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
            for r in pool.map(fn, jobs, chunksize=1):
                bar.update()
                yield r
    bar.close()


def _write_ave(cfg: SynthConfig, root: Path, res: SynthResult, workers: int) -> None:
    rng_master = np.random.default_rng([cfg.seed, 1])
    clip_dir = root / "AVE"
    clip_dir.mkdir(parents=True)
    taken: set[str] = set()
    rows: list[tuple[str, str, int, int, str]] = []  # (cat, vid, start, end, split)
    plan: list[tuple[list[str], str]] = []
    n_tr, n_va, _ = cfg.split_fractions
    for cat in cfg.categories:
        for j in range(cfg.clips_per_category):
            u = (j + 0.5) / cfg.clips_per_category
            split = "train" if u < n_tr else ("val" if u < n_tr + n_va else "test")
            plan.append(([cat], split))
    for _ in range(cfg.two_label_clips):
        a, b = rng_master.choice(len(cfg.categories), size=2, replace=False)
        plan.append(([cfg.categories[a], cfg.categories[b]], "train"))
    manifest = {}
    jobs, vids = [], []
    for i, (cats, _split) in enumerate(plan):
        # ids need the set of ids taken so far: drawn here, in order; the rest in the workers
        rng = np.random.default_rng([cfg.seed, 2, i])
        vid = _video_id(rng, taken)
        off_tag = None
        if len(cats) == 1 and rng.random() < cfg.off_tag_audio_fraction:
            others = [c for c in cfg.categories if c != cats[0]]
            off_tag = others[int(rng.integers(len(others)))]
        jobs.append((cfg, i, cats, off_tag, rng.bit_generator.state, clip_dir / f"{vid}.mp4"))
        vids.append(vid)
    done = _pmap(_render_ave_clip, jobs, workers, "synth AVE clips")
    for (_cats, split), vid, (segments, entry, n_frames) in zip(plan, vids, done):
        for cat, s, e in segments:
            rows.append((cat, vid, s, e, split))
        entry["split"] = split
        manifest[vid] = entry
        res.n_clips += 1
        res.n_clip_frames += n_frames
    # the real release has one zero-length row; keep that quirk so readers must handle it
    zero_vid = _video_id(rng_master, taken)
    zero_row = (cfg.categories[0], zero_vid, 0, 0, "train")

    def fmt(r: tuple) -> str:
        return f"{r[0]}&{r[1]}&good&{r[2]}&{r[3]}"

    (root / "Annotations.txt").write_text(
        "\n".join([HEADER, *map(fmt, rows), fmt(zero_row)]) + "\n"
    )
    for split, fname in (("train", "trainSet.txt"), ("val", "valSet.txt"), ("test", "testSet.txt")):
        lines = [fmt(r) for r in rows if r[4] == split]
        (root / fname).write_text("\n".join([HEADER, *lines]) + "\n")
    res.manifest["ave"] = manifest


# ------------------------------------------------------------------------------------------------
# fixation sets


def _observer_fixations(
    rng: np.random.Generator,
    spec,
    n_frames: int,
    targets_fn,
    height: int,
    width: int,
) -> list[np.ndarray]:
    """Per-frame integer (row, col) fixation points of ``spec.observers`` virtual observers."""
    diag = math.hypot(height, width)
    kinds = np.array(["part", "distractor", "centre"])
    probs = np.array(
        [spec.p_sounding, spec.p_distractor, max(0.0, 1 - spec.p_sounding - spec.p_distractor)]
    )
    probs = probs / probs.sum()
    state = [None] * spec.observers  # (kind, distractor index, centre point)
    out = []
    for k in range(n_frames):
        part_xy, distractor_xys = targets_fn(k)
        pts = []
        for o in range(spec.observers):
            if state[o] is None or rng.random() > spec.persistence:
                kind = str(rng.choice(kinds, p=probs))
                if kind == "distractor" and not distractor_xys:
                    kind = "centre"
                idx = int(rng.integers(len(distractor_xys))) if kind == "distractor" else -1
                centre = np.array([width / 2, height / 2]) + rng.normal(
                    0, spec.centre_bias * diag, size=2
                )
                state[o] = (kind, idx, centre)
            kind, idx, centre = state[o]
            if kind == "part":
                xy = part_xy + rng.normal(0, 1.2, size=2)
            elif kind == "distractor":
                xy = distractor_xys[idx] + rng.normal(0, 3.0, size=2)
            else:
                xy = centre + rng.normal(0, 1.0, size=2)
            col = int(np.clip(round(xy[0]), 0, width - 1))
            row = int(np.clip(round(xy[1]), 0, height - 1))
            pts.append((row, col))
        out.append(np.array(pts, dtype=np.int64))
    return out


def _write_fixation_video(job: tuple) -> tuple[int, dict]:
    """Worker: render and write one eye-tracking video; returns its frame count and manifest."""
    cfg, name, set_name, spec, vid, idx, root = job
    rng = np.random.default_rng([cfg.seed, 3, list(FIXATION_SETS).index(set_name), idx])
    H, W = spec.height, spec.width
    pool = cfg.unseen_categories if spec.unseen_categories else cfg.categories
    cat = pool[int(rng.integers(len(pool)))]
    look = category_look(cat)
    bg, pan = background(rng, H, W)
    sounding = make_object(rng, look, H, W, moving=True)
    # like AVE, some videos carry off-tag audio (another category's sound, e.g. background
    # music): the part then does not pulse, and an audio branch without the switch is misled
    off_tag = None
    if rng.random() < cfg.off_tag_audio_fraction:
        others = [c for c in cfg.categories if c != cat]
        off_tag = others[int(rng.integers(len(others)))]
    sounding.pulsing = off_tag is None
    lo, hi = cfg.distractors
    distractors = [
        make_object(rng, None, H, W, moving=bool(rng.random() < cfg.moving_distractor_fraction))
        for _ in range(max(1, int(rng.integers(lo, hi + 1))))
    ]
    silent = silent_part_object(rng, cfg, H, W, exclude=[cat], pool=pool)
    if silent is not None:
        distractors.append(silent)
    objects = [*distractors, sounding]
    n = spec.frames

    def targets(k: int):
        t = k / spec.fps
        part, _ = sounding.part_geometry(t, W, H)
        moving = [d.position(t, W, H) for d in distractors if np.any(d.velocity != 0)]
        return part, moving

    fix = _observer_fixations(rng, spec, n, targets, H, W)
    fdir = root / "video_frames" / name / vid
    adir = root / "annotations" / name / vid
    wdir = root / "video_audio" / name / vid
    for d in (fdir, adir / "maps", wdir):
        d.mkdir(parents=True)
    sigma = 0.035 * math.hypot(H, W)
    for k in range(n):
        t = k / spec.fps
        frame = render_frame(t, bg, pan, objects, H, W)
        (fdir / f"img_{k + 1:05d}.jpg").write_bytes(jpg_bytes(frame))
        binary = np.zeros((H, W), np.uint8)
        binary[fix[k][:, 0], fix[k][:, 1]] = 1
        dens = cv2.GaussianBlur(binary.astype(np.float32), (0, 0), sigma)
        dens = dens / dens.max()
        (adir / "maps" / f"eyeMap_{k + 1:05d}.jpg").write_bytes(
            jpg_bytes(np.round(dens * 255).astype(np.uint8))
        )
        (adir / f"fixMap_{k + 1:05d}.mat").write_bytes(
            mat_bytes({"eyeMap": binary.astype(np.float64)})
        )
    ta = np.arange(int(round(n / spec.fps * cfg.audio_rate))) / cfg.audio_rate
    heard = category_look(off_tag) if off_tag else look
    audio = rng.normal(0, 0.01, size=ta.shape) + signature(heard, ta, sounding.phase)
    (wdir / f"{vid}.wav").write_bytes(wav_bytes(audio.astype(np.float32), cfg.audio_rate))
    entry = {
        "category": cat,
        "off_tag_audio": off_tag,
        "silent_part": silent.look.name if silent else None,
    }
    return n, entry


def _write_fixation_sets(cfg: SynthConfig, root: Path, res: SynthResult, workers: int) -> None:
    lists = root / "fold_lists"
    lists.mkdir(parents=True)
    jobs = [
        (
            cfg,
            FIXATION_SETS[set_name],
            set_name,
            spec,
            f"{FIXATION_SETS[set_name]}_v{j + 1:02d}",
            j,
            root,
        )
        for set_name, spec in cfg.fixation_sets.items()
        for j in range(spec.videos)
    ]
    done = list(_pmap(_write_fixation_video, jobs, workers, "synth fixation videos"))
    per_set: dict[str, list[str]] = {}
    for job, (n, entry) in zip(jobs, done):
        _cfg, _folder, set_name, spec, vid, _j, _root = job
        res.manifest.setdefault("fixations", {}).setdefault(set_name, {})[vid] = entry
        res.n_fixation_videos += 1
        res.n_fixation_frames += n
        per_set.setdefault(set_name, []).append(f"{vid} {n} {spec.fps:.6f}")
    for set_name, spec in cfg.fixation_sets.items():
        folder = FIXATION_SETS[set_name]
        videos = per_set.get(set_name, [])
        if spec.folds <= 1:
            n_test = max(1, len(videos) // 3)
            folds = {None: (videos[n_test:], videos[:n_test])}
        else:
            folds = {
                k + 1: (
                    [v for j, v in enumerate(videos) if j % spec.folds != k],
                    [v for j, v in enumerate(videos) if j % spec.folds == k],
                )
                for k in range(spec.folds)
            }
        for k, (train, test) in folds.items():
            suffix = f"_{k}" if k is not None else ""
            (lists / f"{folder}_list_train{suffix}_fps.txt").write_text("\n".join(train) + "\n")
            (lists / f"{folder}_list_test{suffix}_fps.txt").write_text("\n".join(test) + "\n")


def generate_world(
    cfg: SynthConfig, out: str | Path, *, force: bool = False, workers: int = 1
) -> SynthResult:
    """Write the synthetic world to ``out`` (``AVE_Dataset/`` and ``fixations/`` inside).

    ``workers`` processes render clips and videos in parallel; the bytes do not depend on it.

    Written into ``<out>.partial`` first and renamed at the end, so an interrupted run leaves
    no half-written world; an existing ``out`` is replaced only with ``force``.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(
            f"{out}: already exists; pass force=True (CLI: --force) to regenerate it"
        )
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    res = SynthResult(root=out)
    try:
        _write_ave(cfg, tmp / "AVE_Dataset", res, workers)
        _write_fixation_sets(cfg, tmp / "fixations", res, workers)
        (tmp / "SYNTH_MANIFEST.json").write_text(
            json.dumps(res.manifest, indent=1, sort_keys=True) + "\n"
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    res.bytes = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return res
