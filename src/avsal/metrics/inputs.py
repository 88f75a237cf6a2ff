"""Input coercion and validation for the engine: whatever the caller passes becomes a checked
array or tensor here, so that the scorers only ever see ``[t, h, w]`` real tensors and boolean
fixation stacks, and every bad input is reported with the frame and video it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

#: Predictions as callers pass them: ``[T, h, w]`` (array or tensor) or a sequence of 2-D maps
#: (anything with ``len`` and ``[i]``; one with a 3-D ``shape`` is read frame by frame, lazily).
Frames = np.ndarray | torch.Tensor | Sequence[np.ndarray | torch.Tensor]


@dataclass(frozen=True)
class FixationPoints:
    """Binary fixation maps ``[T, H, W]`` kept as each frame's fixated pixels.

    A long video's fixations without its dense stack in memory (9,045 frames at 1280x720 are
    8.3 GB as bool, a few MB as points); the engine builds the dense rows chunk by chunk.
    ``indices[t]`` holds frame ``t``'s row-major pixel indices, sorted, unique, in ``[0, H*W)``.
    """

    shape: tuple[int, int, int]  # (T, H, W)
    indices: tuple[np.ndarray, ...]  # T int64 arrays

    def __post_init__(self) -> None:
        t, h, w = self.shape
        if len(self.indices) != t:
            raise ValueError(
                f"{len(self.indices)} frames of fixation points for shape {self.shape}"
            )
        for i, idx in enumerate(self.indices):
            if idx.size and (idx[0] < 0 or idx[-1] >= h * w or np.any(np.diff(idx) <= 0)):
                raise ValueError(
                    f"frame {i}: fixation indices must be sorted, unique, in [0, {h * w})"
                )

    @classmethod
    def from_maps(cls, maps: Iterable[np.ndarray], size: tuple[int, int]) -> FixationPoints:
        """From 2-D maps of ``size`` (any positive value is a fixation), read one at a time."""
        indices = []
        for i, m in enumerate(maps):
            if tuple(m.shape) != tuple(size):
                raise ValueError(
                    f"frame {i}: fixation map is {tuple(m.shape)}, expected {tuple(size)}"
                )
            indices.append(np.flatnonzero(np.asarray(m) > 0).astype(np.int64))
        return cls((len(indices), *size), tuple(indices))

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Frames ``lo:hi`` as dense ``[t, H*W]`` bool rows."""
        out = np.zeros((hi - lo, self.shape[1] * self.shape[2]), dtype=bool)
        for r, idx in enumerate(self.indices[lo:hi]):
            out[r, idx] = True
        return out

    def union(self) -> np.ndarray:
        """Pixels fixated in any frame, sorted (``flatnonzero`` of the stack's ``any(0)``)."""
        if not self.indices:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(self.indices))


def fixation_stack(
    fix: np.ndarray | torch.Tensor | FixationPoints, name: str, video: str, labels: list[int]
) -> FixationPoints:
    """``[T, H, W]`` fixations as points, the one form the engine reads; NaN/Inf or negative
    values of a dense map are errors naming the frame."""
    if isinstance(fix, FixationPoints):
        if 0 in fix.shape:
            raise ValueError(f"video '{video}': {name} must be [T, H, W], got shape {fix.shape}")
        return fix
    a = fix.detach().cpu().numpy() if isinstance(fix, torch.Tensor) else np.asarray(fix)
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"video '{video}': {name} must be [T, H, W], got shape {a.shape}")
    if a.dtype != bool:
        bad = ~np.isfinite(a) | (a < 0)
        if bad.any():
            t = int(np.argwhere(bad)[0][0])
            frame = labels[t] if t < len(labels) else t
            raise ValueError(
                f"frame {frame} of video '{video}': {name} has NaN, Inf or negative values"
            )
    return FixationPoints.from_maps(a, a.shape[1:])


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
    frames = [maps[i] for i in range(lo, hi)]  # each read once (a lazy sequence decodes here)
    for k, frame in enumerate(frames):
        if frame.ndim != 2:
            raise ValueError(f"{where[k]}: {name} must be 2-D, got shape {tuple(frame.shape)}")
    return torch.stack([as_tensor(frame, dev) for frame in frames])


def check_finite(lo: torch.Tensor, hi: torch.Tensor, where: list[str], name: str) -> None:
    """min/max propagate NaN and expose Inf, so they double as the finiteness check."""
    ok = torch.isfinite(lo) & torch.isfinite(hi)
    if not bool(ok.all()):
        i = int((~ok).nonzero()[0, 0])
        raise ValueError(f"{where[i]}: {name} contains NaN or Inf values")
