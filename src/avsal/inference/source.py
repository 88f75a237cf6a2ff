"""One input video as the STA net sees it, decoded the way ``prepare`` decodes its data.

* an mp4 (any size, any frame rate; the project's reader): frames sampled at the model's fps
  (``prepare.fps`` of the params it was trained with, the temporal spacing its clip convolution
  learned), audio at 16 kHz mono;
* a STAViS frames folder (``img_%05d.jpg``) plus its wav: every frame, at ``--fps``.

Frames are kept at their own size for the outputs and resized (INTER_AREA, as ``prepare``) to the
model's cache size for the net; audio becomes the per-frame spectrograms of ``prepare``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avsal.data.video import DecodeError, MissingAudioError, decode_clip, probe

__all__ = ["VideoSource", "read_source"]

AUDIO_RATE = 16000  # what the audio features are computed from (as in prepare)


@dataclass
class VideoSource:
    name: str
    frames: np.ndarray  # uint8 [T, H, W, 3] RGB at the video's own size
    times: list[float]  # seconds of each frame
    fps: float
    audio: np.ndarray | None  # float32 [N] mono at AUDIO_RATE; None without an audio track
    audio_seconds: float


def _frames_folder(
    folder: Path, wav: Path | None, fps: float | None, no_audio: bool
) -> VideoSource:
    if fps is None or fps <= 0:
        raise ValueError(f"{folder}: a frames folder needs --fps (the rate its frames were cut at)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise FileNotFoundError(f"{folder}: no .jpg/.png frames")
    frames = []
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise DecodeError(f"{p}: not a readable image")
        frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    if len({f.shape for f in frames}) != 1:
        raise DecodeError(f"{folder}: frames of different sizes")
    wav = wav or next(iter(sorted(folder.glob("*.wav"))), None)
    audio = None
    if wav is not None and not no_audio:
        from avsal.data.audio import read_wav

        audio = read_wav(wav, rate=AUDIO_RATE)
    elif not no_audio:
        raise MissingAudioError(f"{folder}: no wav beside the frames; give --wav or --no-audio")
    times = [i / fps for i in range(len(frames))]
    seconds = len(frames) / fps
    return VideoSource(folder.name, np.stack(frames), times, fps, audio, seconds)


def read_source(
    path: str | Path,
    *,
    model_fps: float,
    fps: float | None = None,
    wav: str | Path | None = None,
    no_audio: bool = False,
) -> VideoSource:
    """Decode ``path`` (mp4 or frames folder); a missing audio track is an error unless
    ``no_audio`` (then the net runs with its audio switch closed)."""
    path = Path(path)
    if path.is_dir():
        return _frames_folder(path, Path(wav) if wav else None, fps, no_audio)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: video not found")
    info = probe(path)
    if not info.has_audio and not no_audio:
        raise MissingAudioError(
            f"{path}: no audio stream; pass --no-audio to predict with the audio switch closed"
        )
    rate = fps or model_fps
    clip = decode_clip(path, fps=rate, audio_rate=AUDIO_RATE, require_audio=False)
    audio = None if no_audio or not info.has_audio else clip.audio
    times = [float(t) for t in clip.times]
    return VideoSource(path.stem, clip.frames, times, rate, audio, float(info.duration))


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[T, H, W, 3] -> [T, h, w, 3] with ``prepare``'s interpolation (INTER_AREA)."""
    h, w = size
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
