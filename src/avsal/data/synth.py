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
and all writers avoid timestamps, so the same seed and pinned packages give identical bytes.
"""

from __future__ import annotations

import colorsys
import io
import json
import math
import shutil
import string
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import scipy.io
from tqdm import tqdm

from avsal.config import FIXATION_SETS, SynthConfig
from avsal.data.audio import wav_bytes
from avsal.data.ave import AVE_CATEGORIES, HEADER

__all__ = ["CategoryLook", "category_look", "generate_world", "write_mp4", "mat_bytes", "SynthResult"]

_ID_CHARS = string.ascii_letters + string.digits + "-_"
_BODY_SHAPES = ("ellipse", "box", "diamond")
_BODY_PALETTE = np.array(
    [[150, 120, 100], [110, 130, 150], [140, 140, 120], [120, 110, 140], [100, 140, 120]], dtype=np.float32
)
_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by avsal.synth"
#: libx264 settings of the synthetic clips.  Bit-exact output needs one thread AND no lookahead
#: (rc-lookahead / mb-tree): on small frames x264's lookahead made different bytes from run to run.
X264_OPTIONS = {"crf": "20", "preset": "veryfast", "threads": "1", "x264-params": "rc-lookahead=0:mbtree=0"}


# ------------------------------------------------------------------------------------------------
# category appearance and sound


@dataclass(frozen=True)
class CategoryLook:
    """Everything that makes a category recognisable (only the part and the sound are unique)."""

    name: str
    body_shape: str  # shared with every third category: not discriminative
    part_rgb: tuple[float, float, float]
    stripe_angle: float  # radians
    pitch_hz: float
    pulse_hz: float


def category_look(name: str) -> CategoryLook:
    """Deterministic look of an AVE category (a function of its index in the AVE list)."""
    idx = AVE_CATEGORIES.index(name)
    hue = (idx * 0.618034) % 1.0
    rgb = colorsys.hsv_to_rgb(hue, 0.9, 1.0)
    return CategoryLook(
        name=name,
        body_shape=_BODY_SHAPES[idx % len(_BODY_SHAPES)],
        part_rgb=tuple(255.0 * c for c in rgb),
        stripe_angle=math.radians((idx * 47) % 180),
        pitch_hz=220.0 * 2 ** ((idx * 5 % 28) / 9.0),
        pulse_hz=1.0 + 0.5 * (idx % 6),
    )


def envelope(look: CategoryLook, t: np.ndarray, phase: float) -> np.ndarray:
    """Sound envelope in [0.1, 1]; drives the part's pulsing (audio-visual synchrony)."""
    return 0.1 + 0.9 * (0.5 + 0.5 * np.sin(2 * np.pi * look.pulse_hz * t + phase)) ** 2


def signature(look: CategoryLook, t: np.ndarray, phase: float) -> np.ndarray:
    """A category's sound: three harmonics of its pitch, modulated by its envelope."""
    tone = sum(a * np.sin(2 * np.pi * h * look.pitch_hz * t) for h, a in ((1, 1.0), (2, 0.5), (3, 0.25)))
    return 0.35 * envelope(look, t, phase) * tone / 1.75


# ------------------------------------------------------------------------------------------------
# scene model


@dataclass
class SceneObject:
    shape: str
    rgb: np.ndarray  # body colour
    half: tuple[float, float]  # (half height, half width) in px
    start_xy: np.ndarray  # (x, y) at t = 0
    velocity: np.ndarray  # px / s
    look: CategoryLook | None = None  # None for a distractor
    visible: tuple[float, float] = (0.0, math.inf)  # [start, end) seconds
    pulsing: bool = False  # part pulses with the sound envelope
    phase: float = 0.0
    silent: bool = False  # a silent object of another category (part shown, never heard)

    def position(self, t: float, width: int, height: int) -> np.ndarray:
        """Bouncing linear motion keeping the body inside the frame."""
        # the part ("head") sits above the body: keep it inside the frame too
        lo = np.array([self.half[1], 1.9 * self.half[0]]) + 2
        hi = np.array([width - self.half[1], height - self.half[0]]) - 2
        span = np.maximum(hi - lo, 1e-3)
        p = self.start_xy - lo + self.velocity * t
        p = np.mod(p, 2 * span)
        p = np.where(p > span, 2 * span - p, p)
        return lo + p

    def part_geometry(self, t: float, width: int, height: int) -> tuple[np.ndarray, float]:
        """Centre (x, y) and radius of the unique part ("head") at time t."""
        c = self.position(t, width, height)
        centre = c + np.array([0.45 * self.half[1], -0.85 * self.half[0]])
        base = 0.75 * min(self.half)
        if self.look is not None and self.pulsing:
            base *= 0.8 + 0.45 * float(envelope(self.look, np.array([t]), self.phase)[0])
        return centre, base

    def is_visible(self, t: float) -> bool:
        return self.visible[0] <= t < self.visible[1]


def _shape_mask(shape: str, xx: np.ndarray, yy: np.ndarray, c: np.ndarray, half: tuple[float, float]) -> np.ndarray:
    dx = (xx - c[0]) / half[1]
    dy = (yy - c[1]) / half[0]
    if shape == "ellipse":
        return dx**2 + dy**2 <= 1.0
    if shape == "box":
        return (np.abs(dx) <= 0.85) & (np.abs(dy) <= 0.85)
    return np.abs(dx) + np.abs(dy) <= 1.1


def _background(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A muted, low-frequency textured background twice the frame width (for panning)."""
    w2 = 2 * width
    yy, xx = np.mgrid[0:height, 0:w2].astype(np.float32)
    base = rng.uniform(70, 130, size=3).astype(np.float32)
    img = np.tile(base, (height, w2, 1))
    for _ in range(4):
        fx, fy = rng.uniform(0.5, 4.0, size=2) * 2 * np.pi
        ph = rng.uniform(0, 2 * np.pi)
        amp = rng.uniform(5, 18, size=3).astype(np.float32)
        grating = np.sin(fx * xx / width + fy * yy / height + ph)
        img += grating[..., None] * amp
    img += rng.normal(0, 4, size=img.shape).astype(np.float32)
    pan = rng.uniform(-4.0, 4.0, size=1).astype(np.float32)  # px / s
    return img, pan


def render_frame(
    t: float, bg: np.ndarray, pan: np.ndarray, objects: list[SceneObject], height: int, width: int
) -> np.ndarray:
    """RGB uint8 [H, W, 3] at time t."""
    off = int(round(float(pan[0]) * t)) % width
    img = bg[:, off : off + width].copy()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for obj in objects:
        if not obj.is_visible(t):
            continue
        c = obj.position(t, width, height)
        mask = _shape_mask(obj.shape, xx, yy, c, obj.half)
        img[mask] = obj.rgb
        if obj.look is not None:
            pc, r = obj.part_geometry(t, width, height)
            d2 = (xx - pc[0]) ** 2 + (yy - pc[1]) ** 2
            pmask = d2 <= r * r
            a = obj.look.stripe_angle
            stripes = np.sin(2 * np.pi * ((xx - pc[0]) * math.cos(a) + (yy - pc[1]) * math.sin(a)) / 5.0)
            shade = np.where(stripes > 0, 1.0, 0.55)[..., None]
            img[pmask] = (np.array(obj.look.part_rgb, np.float32) * shade)[pmask]
    return np.clip(img, 0, 255).astype(np.uint8)


def _make_object(
    rng: np.random.Generator, look: CategoryLook | None, height: int, width: int, moving: bool, shape: str | None = None
) -> SceneObject:
    s = min(height, width) / 96.0
    half = (float(rng.uniform(9, 12) * s), float(rng.uniform(12, 16) * s))
    start = np.array([rng.uniform(half[1], width - half[1]), rng.uniform(1.9 * half[0], height - half[0])])
    speed = rng.uniform(6, 14) * s if moving else 0.0
    ang = rng.uniform(0, 2 * np.pi)
    return SceneObject(
        shape=shape or (look.body_shape if look else _BODY_SHAPES[int(rng.integers(len(_BODY_SHAPES)))]),
        rgb=_BODY_PALETTE[int(rng.integers(len(_BODY_PALETTE)))],
        half=half,
        start_xy=start,
        velocity=np.array([math.cos(ang), math.sin(ang)]) * speed,
        look=look,
        phase=float(rng.uniform(0, 2 * np.pi)),
    )


def _silent_part_object(
    rng: np.random.Generator, cfg: SynthConfig, height: int, width: int, *, exclude: list[str], pool: tuple[str, ...] | None = None
) -> SceneObject | None:
    """With probability ``silent_part_fraction``: an object of another category, shown, not heard.

    Why: with two unique parts in view, only the sound (its category, its synchrony with the
    pulsing part) tells which object is the event, so the audio branches have spatial work to do.
    """
    if rng.random() >= cfg.silent_part_fraction:
        return None
    others = [c for c in (pool or cfg.categories) if c not in exclude] or [c for c in cfg.categories if c not in exclude]
    look = category_look(others[int(rng.integers(len(others)))])
    obj = _make_object(rng, look, height, width, moving=bool(rng.random() < cfg.moving_distractor_fraction))
    obj.silent = True
    return obj


# ------------------------------------------------------------------------------------------------
# writers (deterministic bytes)


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range YUV 4:2:0 of RGB uint8 [H, W, 3] (H, W even), as [H * 3 / 2, W]."""
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:  # 2x2 mean (chroma sited between the samples)
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [y, sub(u).reshape(h // 4, w), sub(v).reshape(h // 4, w)]
    return np.clip(np.round(np.concatenate(planes)), 0, 255).astype(np.uint8)


def write_mp4(path: Path, frames: np.ndarray, fps: float, audio: np.ndarray, audio_rate: int) -> None:
    """H.264 (yuv420p) + AAC mono mp4, written bit-exactly.

    Determinism needs: our own RGB -> YUV conversion (swscale's threaded conversion was seen to
    give different bytes under load), one encoder thread (set on the codec context, which PyAV
    would otherwise set to "auto"), explicit timestamps on every frame, and the bitexact flags
    (no version strings or times in the container).
    """
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w", format="mp4", options={"fflags": "+bitexact"}) as out:
        vs = out.add_stream("libx264", rate=rate, options=dict(X264_OPTIONS))
        vs.height, vs.width = frames.shape[1:3]
        vs.pix_fmt = "yuv420p"
        vs.time_base = 1 / rate
        vs.codec_context.thread_count = 1
        vs.codec_context.thread_type = "NONE"
        vs.codec_context.flags |= av.codec.context.Flags.bitexact
        aus = out.add_stream("aac", rate=audio_rate, layout="mono")
        aus.codec_context.thread_count = 1
        aus.codec_context.flags |= av.codec.context.Flags.bitexact
        for k, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(rgb_to_yuv420p(f), format="yuv420p")
            vf.pts = k
            vf.time_base = 1 / rate
            for pkt in vs.encode(vf):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
        chunk = 1024
        pcm = audio.astype(np.float32)
        for i in range(0, len(pcm), chunk):
            piece = pcm[i : i + chunk]
            fr = av.AudioFrame.from_ndarray(piece[None, :], format="fltp", layout="mono")
            fr.sample_rate = audio_rate
            fr.pts = i
            for pkt in aus.encode(fr):
                out.mux(pkt)
        for pkt in aus.encode():
            out.mux(pkt)


def mat_bytes(variables: dict[str, np.ndarray]) -> bytes:
    """MAT-5 bytes with a fixed header text (scipy writes the creation time there otherwise)."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, variables, do_compression=True)
    data = bytearray(buf.getvalue())
    data[:116] = _MAT_HEADER.ljust(116, b" ")
    return bytes(data)


def _jpg_bytes(img: np.ndarray) -> bytes:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return enc.tobytes()


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


def _ave_clip(
    rng: np.random.Generator, cfg: SynthConfig, cats: list[str], off_tag: str | None
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int, int]], dict]:
    """Render one AVE-like clip; returns frames, audio, segments and a manifest entry."""
    H, W, D = cfg.height, cfg.width, cfg.clip_seconds
    bg, pan = _background(rng, H, W)
    objects: list[SceneObject] = []
    segments = []
    for cat in cats:
        length = int(rng.integers(max(1, D // 2), D + 1))
        start = int(rng.integers(0, D - length + 1))
        look = category_look(cat)
        obj = _make_object(rng, look, H, W, moving=True)
        obj.visible = (float(start), float(start + length))
        obj.pulsing = off_tag is None
        objects.append(obj)
        segments.append((cat, start, start + length))
    lo, hi = cfg.distractors
    for _ in range(int(rng.integers(lo, hi + 1))):
        moving = bool(rng.random() < cfg.moving_distractor_fraction)
        objects.insert(0, _make_object(rng, None, H, W, moving=moving))
    silent = _silent_part_object(rng, cfg, H, W, exclude=cats)
    if silent is not None:
        objects.insert(0, silent)
    n_frames = int(round(D * cfg.fps))
    frames = np.stack([render_frame(k / cfg.fps, bg, pan, objects, H, W) for k in range(n_frames)])
    ta = np.arange(D * cfg.audio_rate) / cfg.audio_rate
    audio = rng.normal(0, 0.01, size=ta.shape)
    for obj, (_cat, s, e) in zip([o for o in objects if o.look and not o.silent], segments):
        sound_look = category_look(off_tag) if off_tag else obj.look
        on = (ta >= s) & (ta < e)
        audio[on] += signature(sound_look, ta[on], obj.phase)
    entry = {"segments": segments, "off_tag_audio": off_tag, "silent_part": silent.look.name if silent else None}
    return frames, audio.astype(np.float32), segments, entry


def _write_ave(cfg: SynthConfig, root: Path, res: SynthResult) -> None:
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
    for i, (cats, split) in enumerate(tqdm(plan, desc="synth AVE clips", unit="clip", leave=False)):
        rng = np.random.default_rng([cfg.seed, 2, i])
        vid = _video_id(rng, taken)
        off_tag = None
        if len(cats) == 1 and rng.random() < cfg.off_tag_audio_fraction:
            others = [c for c in cfg.categories if c != cats[0]]
            off_tag = others[int(rng.integers(len(others)))]
        frames, audio, segments, entry = _ave_clip(rng, cfg, cats, off_tag)
        write_mp4(clip_dir / f"{vid}.mp4", frames, cfg.fps, audio, cfg.audio_rate)
        for cat, s, e in segments:
            rows.append((cat, vid, s, e, split))
        entry["split"] = split
        manifest[vid] = entry
        res.n_clips += 1
        res.n_clip_frames += len(frames)
    # the real release has one zero-length row; keep that quirk so readers must handle it
    zero_vid = _video_id(rng_master, taken)
    zero_row = (cfg.categories[0], zero_vid, 0, 0, "train")

    def fmt(r: tuple) -> str:
        return f"{r[0]}&{r[1]}&good&{r[2]}&{r[3]}"

    (root / "Annotations.txt").write_text("\n".join([HEADER, *map(fmt, rows), fmt(zero_row)]) + "\n")
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
    probs = np.array([spec.p_sounding, spec.p_distractor, max(0.0, 1 - spec.p_sounding - spec.p_distractor)])
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
                centre = np.array([width / 2, height / 2]) + rng.normal(0, spec.centre_bias * diag, size=2)
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


def _write_fixation_video(
    cfg: SynthConfig, name: str, set_name: str, spec, vid: str, idx: int, root: Path, res: SynthResult
) -> int:
    rng = np.random.default_rng([cfg.seed, 3, list(FIXATION_SETS).index(set_name), idx])
    H, W = spec.height, spec.width
    pool = cfg.unseen_categories if spec.unseen_categories else cfg.categories
    cat = pool[int(rng.integers(len(pool)))]
    look = category_look(cat)
    bg, pan = _background(rng, H, W)
    sounding = _make_object(rng, look, H, W, moving=True)
    # like AVE, some videos carry off-tag audio (another category's sound, e.g. background
    # music): the part then does not pulse, and an audio branch without the switch is misled
    off_tag = None
    if rng.random() < cfg.off_tag_audio_fraction:
        others = [c for c in cfg.categories if c != cat]
        off_tag = others[int(rng.integers(len(others)))]
    sounding.pulsing = off_tag is None
    lo, hi = cfg.distractors
    distractors = [
        _make_object(rng, None, H, W, moving=bool(rng.random() < cfg.moving_distractor_fraction))
        for _ in range(max(1, int(rng.integers(lo, hi + 1))))
    ]
    silent = _silent_part_object(rng, cfg, H, W, exclude=[cat], pool=pool)
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
        (fdir / f"img_{k + 1:05d}.jpg").write_bytes(_jpg_bytes(frame))
        binary = np.zeros((H, W), np.uint8)
        binary[fix[k][:, 0], fix[k][:, 1]] = 1
        dens = cv2.GaussianBlur(binary.astype(np.float32), (0, 0), sigma)
        dens = dens / dens.max()
        (adir / "maps" / f"eyeMap_{k + 1:05d}.jpg").write_bytes(_jpg_bytes(np.round(dens * 255).astype(np.uint8)))
        (adir / f"fixMap_{k + 1:05d}.mat").write_bytes(mat_bytes({"eyeMap": binary.astype(np.float64)}))
    ta = np.arange(int(round(n / spec.fps * cfg.audio_rate))) / cfg.audio_rate
    heard = category_look(off_tag) if off_tag else look
    audio = rng.normal(0, 0.01, size=ta.shape) + signature(heard, ta, sounding.phase)
    (wdir / f"{vid}.wav").write_bytes(wav_bytes(audio.astype(np.float32), cfg.audio_rate))
    res.manifest.setdefault("fixations", {}).setdefault(set_name, {})[vid] = {
        "category": cat,
        "off_tag_audio": off_tag,
        "silent_part": silent.look.name if silent else None,
    }
    res.n_fixation_videos += 1
    res.n_fixation_frames += n
    return n


def _write_fixation_sets(cfg: SynthConfig, root: Path, res: SynthResult) -> None:
    lists = root / "fold_lists"
    lists.mkdir(parents=True)
    for set_name, spec in tqdm(cfg.fixation_sets.items(), desc="synth fixation sets", leave=False):
        folder = FIXATION_SETS[set_name]
        videos = []
        for j in range(spec.videos):
            vid = f"{folder}_v{j + 1:02d}"
            n = _write_fixation_video(cfg, folder, set_name, spec, vid, j, root, res)
            videos.append(f"{vid} {n} {spec.fps:.6f}")
        if spec.folds <= 1:
            n_test = max(1, len(videos) // 3)
            folds = {None: (videos[n_test:], videos[:n_test])}
        else:
            folds = {
                k + 1: ([v for j, v in enumerate(videos) if j % spec.folds != k], [v for j, v in enumerate(videos) if j % spec.folds == k])
                for k in range(spec.folds)
            }
        for k, (train, test) in folds.items():
            suffix = f"_{k}" if k is not None else ""
            (lists / f"{folder}_list_train{suffix}_fps.txt").write_text("\n".join(train) + "\n")
            (lists / f"{folder}_list_test{suffix}_fps.txt").write_text("\n".join(test) + "\n")


def generate_world(cfg: SynthConfig, out: str | Path, *, force: bool = False) -> SynthResult:
    """Write the synthetic world to ``out`` (``AVE_Dataset/`` and ``fixations/`` inside).

    Written into ``<out>.partial`` first and renamed at the end, so an interrupted run leaves
    no half-written world; an existing ``out`` is replaced only with ``force``.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(f"{out}: already exists; pass force=True (CLI: --force) to regenerate it")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    res = SynthResult(root=out)
    try:
        _write_ave(cfg, tmp / "AVE_Dataset", res)
        _write_fixation_sets(cfg, tmp / "fixations", res)
        (tmp / "SYNTH_MANIFEST.json").write_text(json.dumps(res.manifest, indent=1, sort_keys=True) + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    res.bytes = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return res
