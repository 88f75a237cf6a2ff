"""Deterministic file writers of the synthetic world: the same arrays give the same bytes
(H.264 + AAC mp4, MAT-5, JPEG), with no timestamps or version strings anywhere."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import scipy.io

_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by avsal.synth"
#: libx264 settings of the synthetic clips.  Bit-exact output needs one thread AND no lookahead
#: (rc-lookahead / mb-tree): on small frames x264's lookahead made different bytes from run to run.
X264_OPTIONS = {
    "crf": "20",
    "preset": "veryfast",
    "threads": "1",
    "x264-params": "rc-lookahead=0:mbtree=0",
}


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


def write_mp4(
    path: Path, frames: np.ndarray, fps: float, audio: np.ndarray, audio_rate: int
) -> None:
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


def jpg_bytes(img: np.ndarray) -> bytes:
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return enc.tobytes()
