"""What the synthetic world looks and sounds like: category looks, sound signatures, scene
objects and the frame renderer (`synth` decides what goes into each clip and writes it)."""

from __future__ import annotations

import colorsys
import math
import zlib
from dataclasses import dataclass

import numpy as np

from avsal.config import SynthConfig
from avsal.data.ave import AVE_CATEGORIES

_BODY_SHAPES = ("ellipse", "box", "diamond")
_BODY_PALETTE = np.array(
    [[150, 120, 100], [110, 130, 150], [140, 140, 120], [120, 110, 140], [100, 140, 120]],
    dtype=np.float32,
)


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
    """Deterministic look of a category: a function of its index in the AVE list, or for a
    category outside AVE (an unseen one of the scale world) of a stable digest of its name."""
    if name in AVE_CATEGORIES:
        idx = AVE_CATEGORIES.index(name)
    else:
        idx = len(AVE_CATEGORIES) + zlib.crc32(name.encode()) % 1009
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
    tone = sum(
        a * np.sin(2 * np.pi * h * look.pitch_hz * t) for h, a in ((1, 1.0), (2, 0.5), (3, 0.25))
    )
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


def _shape_mask(
    shape: str, xx: np.ndarray, yy: np.ndarray, c: np.ndarray, half: tuple[float, float]
) -> np.ndarray:
    dx = (xx - c[0]) / half[1]
    dy = (yy - c[1]) / half[0]
    if shape == "ellipse":
        return dx**2 + dy**2 <= 1.0
    if shape == "box":
        return (np.abs(dx) <= 0.85) & (np.abs(dy) <= 0.85)
    return np.abs(dx) + np.abs(dy) <= 1.1


def background(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
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
    """RGB uint8 [H, W, 3] at time t.

    Each shape is evaluated on its bounding box only (pixel for pixel the same arithmetic as on
    the whole frame, so the same bytes): a 1280x720 frame costs what its objects cover.
    """
    off = int(round(float(pan[0]) * t)) % width
    img = bg[:, off : off + width].copy()
    for obj in objects:
        if not obj.is_visible(t):
            continue
        c = obj.position(t, width, height)
        reach = (1.1 * obj.half[1], 1.1 * obj.half[0])  # every shape lies within 1.1 x half
        win = _window(c, reach, height, width)
        if win is not None:
            ys, xs, yy, xx = win
            mask = _shape_mask(obj.shape, xx, yy, c, obj.half)
            img[ys, xs][mask] = obj.rgb
        if obj.look is not None:
            pc, r = obj.part_geometry(t, width, height)
            win = _window(pc, (r, r), height, width)
            if win is None:
                continue
            ys, xs, yy, xx = win
            d2 = (xx - pc[0]) ** 2 + (yy - pc[1]) ** 2
            pmask = d2 <= r * r
            a = obj.look.stripe_angle
            stripes = np.sin(
                2 * np.pi * ((xx - pc[0]) * math.cos(a) + (yy - pc[1]) * math.sin(a)) / 5.0
            )
            shade = np.where(stripes > 0, 1.0, 0.55)[..., None]
            img[ys, xs][pmask] = (np.array(obj.look.part_rgb, np.float32) * shade)[pmask]
    return np.clip(img, 0, 255).astype(np.uint8)


def _window(
    centre: np.ndarray, reach: tuple[float, float], height: int, width: int
) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """Rows/columns around ``centre`` (x, y) within ``reach`` (x, y) px, with their float32
    pixel coordinates [h, w] (the values the whole-frame grid holds there); None if outside."""
    x0 = max(0, int(math.floor(centre[0] - reach[0])) - 1)
    x1 = min(width, int(math.ceil(centre[0] + reach[0])) + 2)
    y0 = max(0, int(math.floor(centre[1] - reach[1])) - 1)
    y1 = min(height, int(math.ceil(centre[1] + reach[1])) + 2)
    if x0 >= x1 or y0 >= y1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    return slice(y0, y1), slice(x0, x1), yy, xx


def make_object(
    rng: np.random.Generator,
    look: CategoryLook | None,
    height: int,
    width: int,
    moving: bool,
    shape: str | None = None,
) -> SceneObject:
    s = min(height, width) / 96.0
    half = (float(rng.uniform(9, 12) * s), float(rng.uniform(12, 16) * s))
    start = np.array(
        [rng.uniform(half[1], width - half[1]), rng.uniform(1.9 * half[0], height - half[0])]
    )
    speed = rng.uniform(6, 14) * s if moving else 0.0
    ang = rng.uniform(0, 2 * np.pi)
    return SceneObject(
        shape=shape
        or (look.body_shape if look else _BODY_SHAPES[int(rng.integers(len(_BODY_SHAPES)))]),
        rgb=_BODY_PALETTE[int(rng.integers(len(_BODY_PALETTE)))],
        half=half,
        start_xy=start,
        velocity=np.array([math.cos(ang), math.sin(ang)]) * speed,
        look=look,
        phase=float(rng.uniform(0, 2 * np.pi)),
    )


def silent_part_object(
    rng: np.random.Generator,
    cfg: SynthConfig,
    height: int,
    width: int,
    *,
    exclude: list[str],
    pool: tuple[str, ...] | None = None,
) -> SceneObject | None:
    """With probability ``silent_part_fraction``: an object of another category, shown, not heard.

    Why: with two unique parts in view, only the sound (its category, its synchrony with the
    pulsing part) tells which object is the event, so the audio branches have spatial work to do.
    """
    if rng.random() >= cfg.silent_part_fraction:
        return None
    others = [c for c in (pool or cfg.categories) if c not in exclude] or [
        c for c in cfg.categories if c not in exclude
    ]
    look = category_look(others[int(rng.integers(len(others)))])
    obj = make_object(
        rng, look, height, width, moving=bool(rng.random() < cfg.moving_distractor_fraction)
    )
    obj.silent = True
    return obj
