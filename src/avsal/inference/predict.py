"""``avsal predict``: fixation maps of one video from a trained STA net, with what was run.

The video goes through the code the pipeline uses for the fixation sets: ``write_prepared``
(the cache format), ``FrameDataset`` (clips of ``model.clip_frames`` frames, the net's input
size) and ``infer`` (batches, bf16 autocast and channels_last on CUDA). Maps come out at the
cache size and are resized (bilinear) to the video's own size.

Outputs in ``OUT/<video>/``: ``map_%05d.npy`` (float16, in [0, 1]), ``png/map_%05d.png``
(8-bit, for viewing), ``overlay.mp4`` (heat map over the frames, with the audio) and
``predict.json``. ``OUT`` is then a set folder that ``avsal score`` reads.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from avsal.inference.model import LoadedModel
from avsal.inference.source import AUDIO_RATE, VideoSource, resize_frames

__all__ = ["model_inputs", "predict_maps", "predict_video", "to_video_size"]


@contextlib.contextmanager
def model_inputs(model: LoadedModel, src: VideoSource) -> Iterator[Any]:
    """The net's inputs for every frame of ``src``: a ``FrameDataset`` over a temporary cache.

    Items are dicts of ``frame`` [3, h, w], ``clip`` [T, 3, h, w] and ``audio`` (the spectrogram
    of the frame's second), exactly what the pipeline feeds STA (and what a served model takes).
    """
    from avsal.data.datasets import FrameDataset
    from avsal.data.prepared import DecodedItem, write_prepared
    from avsal.models.audio import frame_audio_features

    cfg = model.cfg
    size = (int(cfg.prepare.size[0]), int(cfg.prepare.size[1]))
    audio = (
        src.audio
        if src.audio is not None
        else np.zeros(int(src.audio_seconds * AUDIO_RATE), np.float32)
    )
    with torch.no_grad():
        feats = frame_audio_features(
            torch.from_numpy(np.ascontiguousarray(audio)),
            src.times,
            variant=cfg.prepare.audio_variant,
        )
    item = DecodedItem(
        src.name, resize_frames(src.frames, size), feats.numpy().astype(np.float16), src.times,
        [[] for _ in src.times],
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="avsal-predict-") as tmp:
        prepared = write_prepared(
            Path(tmp) / "prepared", [item], lambda x: x, job_id=lambda x: x.clip_id,
            settings={"predict": src.name}, desc="prepare",
        )  # fmt: skip
        yield FrameDataset(
            prepared,
            prepared.frame_refs(),
            input_size=cfg.sta.input_size,
            clip_frames=cfg.model.clip_frames,
        )


def to_video_size(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """Net maps [T, h, w] -> [T, height, width] float32 in [0, 1] (bilinear)."""
    out = np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR) for m in maps])
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def predict_maps(
    model: LoadedModel, src: VideoSource, *, device: str = "auto", batch_size: int | None = None
) -> np.ndarray:
    """Maps [T, H, W] float32 in [0, 1] at the video's size, one per frame of ``src``."""
    from avsal.stages.common import infer

    closed = src.audio is None and model.with_switch  # no audio: the switch says "off-tag"

    def fn(m: torch.nn.Module, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        extra = (
            {"switch_prob": torch.zeros(len(b["clip"]), device=b["clip"].device)} if closed else {}
        )
        p = m(frame=b["frame"], clip=b["clip"], audio=b["audio"], **extra)  # [B, 1, h, w]
        return {"map": p.float()[:, 0]}

    with model_inputs(model, src) as ds:
        out = infer(
            model.net,
            ds,
            fn,
            batch_size=batch_size or model.cfg.runtime.infer_batch_size,
            device=device,
            desc=f"predict {src.name}",
        )
    return to_video_size(out["map"], *src.frames.shape[1:3])


def overlay_frames(frames: np.ndarray, maps: np.ndarray, *, alpha: float = 0.45) -> np.ndarray:
    """RGB frames with the map as a JET heat map blended over them; even sizes (yuv420p)."""
    out = []
    for f, m in zip(frames, maps):
        heat = cv2.applyColorMap((m * 255).round().astype(np.uint8), cv2.COLORMAP_JET)
        heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
        out.append(cv2.addWeighted(f, 1 - alpha, heat, alpha, 0))
    arr = np.stack(out)
    return arr[:, : arr.shape[1] // 2 * 2, : arr.shape[2] // 2 * 2]


def predict_video(
    model: LoadedModel,
    video: str | Path,
    *,
    out: str | Path,
    fps: float | None = None,
    wav: str | Path | None = None,
    no_audio: bool = False,
    device: str = "auto",
    overlay: bool = True,
) -> dict[str, Any]:
    """Predict one video and write its folder under ``out`` (whole or not at all)."""
    from avsal.data.synth_files import write_mp4
    from avsal.inference.source import read_source

    t0 = time.perf_counter()
    src = read_source(video, model_fps=model.cfg.prepare.fps, fps=fps, wav=wav, no_audio=no_audio)
    t_decode = time.perf_counter() - t0
    maps = predict_maps(model, src, device=device)
    t_net = time.perf_counter() - t0 - t_decode
    dst = Path(out) / src.name
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{src.name}-", dir=dst.parent))
    try:
        (tmp / "png").mkdir()
        for i, m in enumerate(maps, start=1):
            np.save(tmp / f"map_{i:05d}.npy", m.astype(np.float16))
            cv2.imwrite(str(tmp / "png" / f"map_{i:05d}.png"), (m * 255).round().astype(np.uint8))
        if overlay:
            sound = (
                src.audio
                if src.audio is not None
                else np.zeros(int(src.audio_seconds * AUDIO_RATE), np.float32)
            )
            write_mp4(
                tmp / "overlay.mp4", overlay_frames(src.frames, maps), src.fps, sound, AUDIO_RATE
            )
        record = {
            "video": str(Path(video).resolve()),
            "model": model.source,
            "frames": len(maps),
            "fps": src.fps,
            "size": list(src.frames.shape[1:3]),
            "audio": "none: switch closed (switch_prob 0)"
            if src.audio is None and model.with_switch
            else ("none (net has no audio switch)" if src.audio is None else f"{AUDIO_RATE} Hz mono"),
            "model_params": {
                "prepare": model.cfg.to_dict()["prepare"],
                "sta": model.cfg.to_dict()["sta"],
                "backbone": model.cfg.model.backbone,
                "clip_frames": model.cfg.model.clip_frames,
            },
            "seconds": {"decode": round(t_decode, 3), "net": round(t_net, 3),
                        "total": round(time.perf_counter() - t0, 3)},
        }  # fmt: skip
        (tmp / "predict.json").write_text(json.dumps(record, indent=1, default=str) + "\n")
        if dst.exists():
            shutil.rmtree(dst)
        tmp.rename(dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {**record, "out": str(dst)}
