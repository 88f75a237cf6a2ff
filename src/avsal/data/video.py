"""Decode a clip once: frames at a requested fps and size, audio at 16 kHz mono (PyAV).

Real AVE clips are H.264 + AAC at any size and odd frame rates (17.6, 29.97, 25 fps), so frames
are sampled by time: output frame ``k`` shows the last source frame whose timestamp is at or
before ``k / fps``.  Every failure names the file and what was expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from avsal.errors import AvsalError

__all__ = ["DecodeError", "MissingAudioError", "DecodedClip", "probe", "decode_clip", "ClipInfo"]


class DecodeError(AvsalError, RuntimeError):
    """A video that cannot be opened or decoded."""


class MissingAudioError(DecodeError):
    """A video without an audio track (AVE clips must have one)."""


@dataclass(frozen=True)
class ClipInfo:
    path: str
    duration: float  # seconds
    native_fps: float
    width: int
    height: int
    has_audio: bool
    audio_rate: int | None
    audio_duration: float  # seconds of audio (0 without an audio track)


@dataclass
class DecodedClip:
    frames: np.ndarray  # uint8 [T, H, W, 3] RGB
    times: np.ndarray  # float64 [T] seconds
    audio: np.ndarray  # float32 [N] mono in [-1, 1] at ``audio_rate``
    audio_rate: int
    info: ClipInfo


def _open(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: video file not found")
    try:
        return av.open(str(path))
    except Exception as exc:  # av raises many error types; all mean "not a readable video"
        raise DecodeError(
            f"{path}: cannot open as a video container (expected mp4 with H.264 + AAC): {exc}"
        ) from exc


def _duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    raise DecodeError(f"{container.name}: no duration in the container")


def probe(path: str | Path) -> ClipInfo:
    """Stream facts without decoding (used by validation)."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            raise DecodeError(f"{path}: no video stream")
        vs = container.streams.video[0]
        fps = float(vs.average_rate or vs.guessed_rate or 0.0)
        aus = container.streams.audio
        adur = 0.0
        if aus:
            a = aus[0]
            if a.duration is not None and a.time_base is not None:
                adur = float(a.duration * a.time_base)
            elif container.duration is not None:
                adur = container.duration / av.time_base
        return ClipInfo(
            path=str(path),
            duration=_duration(container, vs),
            native_fps=fps,
            width=vs.codec_context.width,
            height=vs.codec_context.height,
            has_audio=bool(aus),
            audio_rate=aus[0].rate if aus else None,
            audio_duration=adur,
        )


def decode_clip(
    path: str | Path,
    *,
    fps: float,
    size: tuple[int, int] | None = None,
    audio_rate: int = 16000,
    require_audio: bool = True,
) -> DecodedClip:
    """Decode ``path`` to RGB frames at ``fps`` (resized to ``size`` = (H, W)) and mono audio.

    The number of frames is ``floor(duration * fps)``; audio is resampled to ``audio_rate`` and
    trimmed/zero-padded to ``round(duration * audio_rate)`` samples so both cover the same span.
    """
    path = Path(path)
    info = probe(path)
    if require_audio and not info.has_audio:
        raise MissingAudioError(f"{path}: no audio stream; expected an AAC audio track")
    n_out = int(math.floor(info.duration * fps + 1e-6))
    if n_out <= 0:
        raise DecodeError(f"{path}: duration {info.duration:.3f}s gives no frame at {fps} fps")
    targets = np.arange(n_out, dtype=np.float64) / fps
    frames: list[np.ndarray | None] = [None] * n_out
    try:
        with av.open(str(path)) as container:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            start = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.0
            k = 0
            last: np.ndarray | None = None
            for frame in container.decode(vs):
                if frame.pts is None:
                    continue
                t = float(frame.pts * frame.time_base) - start
                # every target time before this frame is shown by the previous frame
                while k < n_out and targets[k] < t - 1e-6:
                    if last is None:
                        last = frame.to_ndarray(format="rgb24")
                    frames[k] = last
                    k += 1
                if k >= n_out:
                    break
                last = frame.to_ndarray(format="rgb24")
            while k < n_out and last is not None:
                frames[k] = last
                k += 1
    except (av.FFmpegError, OSError) as exc:
        raise DecodeError(f"{path}: video stream is corrupt or truncated: {exc}") from exc
    if any(f is None for f in frames):
        got = sum(f is not None for f in frames)
        raise DecodeError(f"{path}: decoded {got} of {n_out} expected frames; file truncated?")
    out = np.stack(frames)  # [T, H0, W0, 3]
    if size is not None:
        h, w = size
        out = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in out])
    audio = (
        _decode_audio(path, audio_rate, info.duration)
        if info.has_audio
        else np.zeros(0, np.float32)
    )
    return DecodedClip(frames=out, times=targets, audio=audio, audio_rate=audio_rate, info=info)


def _decode_audio(path: Path, rate: int, duration: float) -> np.ndarray:
    """Mono float32 at ``rate``, exactly ``round(duration * rate)`` samples."""
    chunks: list[np.ndarray] = []
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.FFmpegError, OSError) as exc:
        raise DecodeError(f"{path}: audio stream is corrupt or truncated: {exc}") from exc
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    n = int(round(duration * rate))
    if audio.size == 0:
        raise DecodeError(f"{path}: audio stream decoded to no samples")
    if audio.size >= n:
        return audio[:n]
    return np.pad(audio, (0, n - audio.size))
