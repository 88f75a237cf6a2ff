"""Audio front end: the window of audio around a frame and its log spectrogram.

Two variants (the paper is the default, the released code is a named option):

``"paper"``  -- 1 s of 16 kHz audio centred on the frame (Sec. 3.7: "1 frame and 1 s audio"),
    as a log-mel spectrogram: n_fft 512, 25 ms Hann window (400 samples), 10 ms hop (160),
    64 mel bands over 0-8 kHz (HTK mel scale, torchaudio), power spectrum, ``log(mel + 1e-6)``,
    ``center=True`` with reflect padding -> [64, 101] per second. The paper gives no parameters;
    these are the usual VGGish/AudioSet-style settings.
``"official"`` -- the released code's 0.5 s window as VGGSound preprocesses audio
    (``scipy.signal.spectrogram(x, 16000, nperseg=512, noverlap=353)``: periodic Tukey(0.25)
    window, hop 159, per-segment mean removal, one-sided density scaling), ``log(S + 1e-7)`` and
    per-example standardisation ``(S - mean) / (std + 1e-9)``; the waveform is clipped to [-1, 1]
    first -> [257, 48] for 8000 samples.

The data pipeline calls these once and caches the arrays; the nets take [B, 1, F, Ta].
"""

from __future__ import annotations

import functools
from typing import Literal

import torch
import torchaudio
from scipy.signal import get_window
from torch import Tensor

SAMPLE_RATE = 16_000
Variant = Literal["paper", "official"]
WINDOW_SECONDS: dict[str, float] = {"paper": 1.0, "official": 0.5}
SPECTROGRAM_SHAPE: dict[str, tuple[int, int]] = {"paper": (64, 101), "official": (257, 48)}

_PAPER = {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 64, "log_eps": 1e-6}
_OFFICIAL = {"n_fft": 512, "hop_length": 512 - 353, "log_eps": 1e-7, "std_eps": 1e-9}


def _check_variant(variant: str) -> None:
    if variant not in WINDOW_SECONDS:
        raise ValueError(f"unknown audio variant {variant!r}; use 'paper' or 'official'")


@functools.lru_cache(maxsize=1)
def _mel_transform() -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE,
        n_fft=_PAPER["n_fft"],
        win_length=_PAPER["win_length"],
        hop_length=_PAPER["hop_length"],
        f_min=0.0,
        f_max=SAMPLE_RATE / 2,
        n_mels=_PAPER["n_mels"],
        power=2.0,
        center=True,
    )


@functools.lru_cache(maxsize=1)
def _tukey_window() -> Tensor:
    # scipy's get_window is periodic (fftbins=True), exactly what signal.spectrogram uses.
    return torch.from_numpy(get_window(("tukey", 0.25), _OFFICIAL["n_fft"]).copy())


def _official_spectrogram(x: Tensor) -> Tensor:
    """x [B, N] -> standardised log spectrogram [B, 257, frames] (scipy/VGGSound semantics)."""
    n_fft, hop = _OFFICIAL["n_fft"], _OFFICIAL["hop_length"]
    x = x.clamp(-1.0, 1.0)
    win = _tukey_window().to(device=x.device, dtype=x.dtype)
    seg = x.unfold(-1, n_fft, hop)  # [B, frames, n_fft]
    seg = (seg - seg.mean(dim=-1, keepdim=True)) * win  # detrend='constant', then window
    power = torch.fft.rfft(seg, n=n_fft, dim=-1).abs().pow(2)  # [B, frames, 257]
    power = power / (SAMPLE_RATE * win.pow(2).sum())  # scaling='density'
    power[..., 1:-1] *= 2.0  # one-sided: double all but DC and Nyquist
    spec = torch.log(power.transpose(-1, -2) + _OFFICIAL["log_eps"])  # [B, 257, frames]
    mean = spec.mean(dim=(-2, -1), keepdim=True)
    std = spec.std(dim=(-2, -1), keepdim=True, unbiased=False)
    return (spec - mean) / (std + _OFFICIAL["std_eps"])


def log_spectrogram(waveform: Tensor, *, variant: Variant = "paper") -> Tensor:
    """Log spectrogram of 16 kHz mono audio windows: [N] -> [1, F, Ta]; [B, N] -> [B, 1, F, Ta].

    The window should already be cut (``cut_audio_window``) to ``WINDOW_SECONDS[variant]``;
    other lengths work and change Ta.
    """
    _check_variant(variant)
    if waveform.dim() not in (1, 2):
        raise ValueError(f"waveform must be [N] or [B,N], got shape {tuple(waveform.shape)}")
    if waveform.shape[-1] < _PAPER["n_fft"]:
        raise ValueError(
            f"waveform has {waveform.shape[-1]} samples; need at least {_PAPER['n_fft']}"
        )
    x = waveform.unsqueeze(0) if waveform.dim() == 1 else waveform
    x = x if x.is_floating_point() else x.float()
    if variant == "paper":
        mel = _mel_transform().to(device=x.device, dtype=x.dtype)(x)  # [B, 64, Ta]
        spec = torch.log(mel + _PAPER["log_eps"])
    else:
        spec = _official_spectrogram(x)
    spec = spec.unsqueeze(1)  # [B, 1, F, Ta]
    return spec[0] if waveform.dim() == 1 else spec


def cut_audio_window(
    waveform: Tensor,
    *,
    center_s: float,
    duration_s: float,
    sample_rate: int = SAMPLE_RATE,
) -> Tensor:
    """The ``duration_s`` of audio centred on ``center_s`` (e.g. a frame's time), zero-padded.

    waveform [..., N] -> [..., round(duration_s * sample_rate)]. Samples before 0 or after the
    end of the clip are zeros, so frames near the clip edges still get a full-size window.
    Window = samples [c - n//2, c - n//2 + n) with c = round(center_s * sample_rate).
    """
    if duration_s <= 0:
        raise ValueError(f"duration_s must be > 0, got {duration_s}")
    n_total = waveform.shape[-1]
    n = int(round(duration_s * sample_rate))
    start = int(round(center_s * sample_rate)) - n // 2
    out = waveform.new_zeros(*waveform.shape[:-1], n)
    lo, hi = max(start, 0), min(start + n, n_total)
    if hi > lo:
        out[..., lo - start : hi - start] = waveform[..., lo:hi]
    return out


def frame_audio_features(
    waveform: Tensor,
    frame_times_s: list[float] | Tensor,
    *,
    variant: Variant = "paper",
) -> Tensor:
    """Spectrograms for frame times of one clip: 16 kHz mono waveform [N] -> [T, 1, F, Ta]."""
    _check_variant(variant)
    if waveform.dim() != 1:
        raise ValueError(f"waveform must be mono [N], got shape {tuple(waveform.shape)}")
    times = [float(t) for t in frame_times_s]
    if not times:
        raise ValueError("frame_times_s is empty")
    windows = torch.stack(
        [cut_audio_window(waveform, center_s=t, duration_s=WINDOW_SECONDS[variant]) for t in times]
    )  # [T, n]
    return log_spectrogram(windows, variant=variant)
