"""Input coercion and validation for the engine: whatever the caller passes becomes a checked
array or tensor here, so that the scorers only ever see ``[t, h, w]`` real tensors and boolean
fixation stacks, and every bad input is reported with the frame and video it came from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

#: Predictions as callers pass them: ``[T, h, w]`` (array or tensor) or a sequence of 2-D maps.
Frames = np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor]


def fixation_stack(
    fix: np.ndarray | torch.Tensor, name: str, video: str, labels: list[int]
) -> np.ndarray:
    """``[T, H, W]`` bool on the host; NaN/Inf or negative values are errors naming the frame."""
    a = fix.detach().cpu().numpy() if isinstance(fix, torch.Tensor) else np.asarray(fix)
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"video '{video}': {name} must be [T, H, W], got shape {a.shape}")
    if a.dtype == bool:
        return a
    bad = ~np.isfinite(a) | (a < 0)
    if bad.any():
        t = int(np.argwhere(bad)[0][0])
        frame = labels[t] if t < len(labels) else t
        raise ValueError(
            f"frame {frame} of video '{video}': {name} has NaN, Inf or negative values"
        )
    return a > 0


def as_tensor(a: np.ndarray | torch.Tensor, dev: torch.device) -> torch.Tensor:
    """``a`` on ``dev`` in its own dtype; non-numeric and complex arrays are errors."""
    if isinstance(a, torch.Tensor):
        return a.detach().to(dev)
    a = np.asarray(a)
    if a.dtype != bool and (not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a)):
        raise ValueError(f"maps must be real-valued, got dtype {a.dtype}")
    return torch.from_numpy(np.ascontiguousarray(a)).to(dev)


def block(
    maps: Frames, lo: int, hi: int, dev: torch.device, where: list[str], name: str
) -> torch.Tensor:
    """Frames ``lo:hi`` as one ``[t, h, w]`` tensor on ``dev`` (any real dtype)."""
    if isinstance(maps, (np.ndarray, torch.Tensor)):
        if maps.ndim != 3:
            raise ValueError(f"{name}s must be [T, h, w], got shape {tuple(maps.shape)}")
        return as_tensor(maps[lo:hi], dev)
    for i in range(lo, hi):
        if maps[i].ndim != 2:
            raise ValueError(
                f"{where[i - lo]}: {name} must be 2-D, got shape {tuple(maps[i].shape)}"
            )
    return torch.stack([as_tensor(maps[i], dev) for i in range(lo, hi)])


def check_finite(lo: torch.Tensor, hi: torch.Tensor, where: list[str], name: str) -> None:
    """min/max propagate NaN and expose Inf, so they double as the finiteness check."""
    ok = torch.isfinite(lo) & torch.isfinite(hi)
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0, 0])
        raise ValueError(f"{where[i]}: {name} contains NaN or Inf values")
