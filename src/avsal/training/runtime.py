"""Device placement helpers shared by training, prediction and benchmarks.

Kept free of any training state so that a predictor or a benchmark gets exactly the same
autocast / memory-format policy as the trainer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import torch

from avsal.training.config import AutoBool


def resolve_device(spec: str = "auto", *, local_rank: int = 0) -> torch.device:
    """Turn "auto"/"cpu"/"cuda"/"cuda:N" into a device; under DDP a bare "cuda" means this rank's GPU."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {spec!r} requested but CUDA is not available")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def resolve_amp(amp: AutoBool, device: torch.device) -> bool:
    """bf16 autocast is used on CUDA only: on CPU it is slow and changes numerics for no gain."""
    if amp == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    if amp and device.type != "cuda":
        raise ValueError(f"amp=True needs a CUDA device, got {device}; use amp='auto' or False")
    return bool(amp)


def resolve_channels_last(channels_last: AutoBool, device: torch.device) -> bool:
    """channels_last only pays off for cuDNN convolutions, so "auto" means CUDA only."""
    if channels_last == "auto":
        return device.type == "cuda"
    if channels_last and device.type != "cuda":
        raise ValueError(
            f"channels_last=True needs a CUDA device, got {device}; use 'auto' or False"
        )
    return bool(channels_last)


def autocast_context(
    device: torch.device | str, enabled: bool
) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device` when enabled, else a no-op; bf16 needs no GradScaler."""
    device = torch.device(device)
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def to_device(batch: Any, device: torch.device | str, channels_last: bool = False) -> Any:
    """Move every tensor in a nested batch (dict/list/tuple) to `device`.

    4-D floating tensors (N, C, H, W images) are made channels_last when asked, to match a model
    converted with `model.to(memory_format=torch.channels_last)`; other values pass through.
    Copies are non-blocking from pinned memory so they overlap with compute on CUDA.
    """
    device = torch.device(device)
    if isinstance(batch, torch.Tensor):
        non_blocking = device.type == "cuda" and batch.device.type == "cpu" and batch.is_pinned()
        if channels_last and batch.dim() == 4 and batch.is_floating_point():
            return batch.to(device, non_blocking=non_blocking, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        moved = {k: to_device(v, device, channels_last) for k, v in batch.items()}
        try:
            return type(batch)(moved)  # keep OrderedDict & co.
        except TypeError:  # e.g. defaultdict: its constructor wants a factory first
            return moved
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(to_device(v, device, channels_last) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    return batch
