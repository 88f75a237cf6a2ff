"""WAV reading/writing with resampling to the model rate (16 kHz mono by default)."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import scipy.signal

from avsal.errors import AvsalError

__all__ = ["AudioError", "read_wav", "resample", "wav_bytes"]


class AudioError(AvsalError, ValueError):
    """An audio file that is missing or unreadable; names the file."""


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (deterministic, no FFT edge effects)."""
    if rate_in == rate_out:
        return audio.astype(np.float32, copy=False)
    g = gcd(rate_in, rate_out)
    return scipy.signal.resample_poly(audio, rate_out // g, rate_in // g).astype(np.float32)


def read_wav(path: str | Path, *, rate: int = 16000) -> np.ndarray:
    """Mono float32 in [-1, 1] at ``rate``."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    try:
        sr, data = scipy.io.wavfile.read(str(path))
    except Exception as exc:
        raise AudioError(f"{path}: not a readable WAV file: {exc}") from exc
    if data.dtype == np.int16:
        audio = data.astype(np.float32) / 32768.0
    elif data.dtype == np.int32:
        audio = data.astype(np.float32) / 2147483648.0
    elif data.dtype == np.uint8:
        audio = (data.astype(np.float32) - 128.0) / 128.0
    else:
        audio = data.astype(np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if audio.size == 0:
        raise AudioError(f"{path}: WAV file has no samples")
    return resample(audio, int(sr), rate)


def wav_bytes(audio: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV bytes of mono float audio (deterministic: no timestamps in WAV)."""
    import io

    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    scipy.io.wavfile.write(buf, rate, pcm)
    return buf.getvalue()
