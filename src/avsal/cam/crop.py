"""Coarse to fine (Sec. 3.6): boxes from coarse SCAMs, crops for the fine stage, paste-back.

Boxes are ``Box(y0, x0, y1, x1)``, half-open pixel coordinates (rows y0..y1-1, columns x0..x1-1)
of the map they were computed on; ``scale_box`` moves them to another resolution. The coarse map
is binarised at ``k`` x its mean (k = 2 in the paper), and the box is the tight box around every
pixel strictly above. An empty mask (e.g. a constant map) gives the full frame: with nothing
salient there is nothing to zoom into, and the fine stage then sees the whole frame.

Only frames are cropped; the audio of a clip is unchanged.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class Box(NamedTuple):
    """Half-open pixel box (y0, x0, y1, x1)."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


def full_box(size: tuple[int, int]) -> Box:
    return Box(0, 0, int(size[0]), int(size[1]))


def _check_box(box: Box | tuple[int, int, int, int], size: tuple[int, int]) -> Box:
    b = Box(*(int(v) for v in box))
    if not (0 <= b.y0 < b.y1 <= size[0] and 0 <= b.x0 < b.x1 <= size[1]):
        raise ValueError(f"box {tuple(b)} is empty or outside a {size[0]}x{size[1]} frame")
    return b


def _check_map(m: Tensor, ndim: int, what: str) -> None:
    if m.dim() != ndim:
        shape = "[H,W]" if ndim == 2 else "[T,H,W]"
        raise ValueError(f"{what} must be {shape}, got shape {tuple(m.shape)}")


def binarize(saliency: Tensor, *, k: float = 2.0) -> Tensor:
    """Mask of pixels strictly above k x the map's mean: [H, W] -> bool [H, W]."""
    _check_map(saliency, 2, "saliency map")
    return saliency > k * saliency.float().mean()


def box_from_mask(mask: Tensor) -> Box | None:
    """Tight half-open box around the True pixels of [H, W]; None if there are none."""
    _check_map(mask, 2, "mask")
    rows = torch.nonzero(mask.any(dim=1)).flatten()
    cols = torch.nonzero(mask.any(dim=0)).flatten()
    if rows.numel() == 0:
        return None
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


def box_from_map(saliency: Tensor, *, k: float = 2.0) -> Box:
    """Box of one frame's coarse map [H, W] (binarised at k x mean); empty -> the full frame."""
    box = box_from_mask(binarize(saliency, k=k))
    return box if box is not None else full_box(tuple(saliency.shape))


def clip_box(maps: Tensor, *, k: float = 2.0, mode: Literal["union", "mean"] = "union") -> Box:
    """One box for a clip's maps [T, H, W].

    ``union``: the tight box around the per-frame boxes (frames with an empty mask are skipped;
    all empty -> the full frame). ``mean``: the box of the clip-mean map.
    """
    _check_map(maps, 3, "maps")
    size = tuple(maps.shape[-2:])
    if mode == "mean":
        return box_from_map(maps.float().mean(dim=0), k=k)
    if mode != "union":
        raise ValueError(f"mode must be 'union' or 'mean', got {mode!r}")
    boxes = [b for b in (box_from_mask(binarize(m, k=k)) for m in maps) if b is not None]
    if not boxes:
        return full_box(size)
    return Box(
        min(b.y0 for b in boxes),
        min(b.x0 for b in boxes),
        max(b.y1 for b in boxes),
        max(b.x1 for b in boxes),
    )


def scale_box(box: Box, from_size: tuple[int, int], to_size: tuple[int, int]) -> Box:
    """Move a box between resolutions, rounding outwards so the region is never lost."""
    b = _check_box(box, from_size)
    sy, sx = to_size[0] / from_size[0], to_size[1] / from_size[1]

    def lo(v: float) -> int:  # the tolerance keeps exact multiples from drifting a pixel
        return math.floor(v + 1e-9)

    def hi(v: float) -> int:
        return math.ceil(v - 1e-9)

    y0, x0 = max(0, lo(b.y0 * sy)), max(0, lo(b.x0 * sx))
    y1, x1 = min(to_size[0], hi(b.y1 * sy)), min(to_size[1], hi(b.x1 * sx))
    return Box(y0, x0, max(y1, y0 + 1), max(x1, x0 + 1))


def _resize(x: Tensor, size: tuple[int, int], antialias: bool) -> Tensor:
    """Bilinear resize of the last two dims of any [..., h, w] tensor (ints are rounded back)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x.clone()
    lead = x.shape[:-2]
    y = x.reshape(1, -1, *x.shape[-2:])
    y = y if y.is_floating_point() else y.float()
    y = F.interpolate(y, size=size, mode="bilinear", align_corners=False, antialias=antialias)
    if not x.is_floating_point():
        info = torch.iinfo(x.dtype)
        y = y.round().clamp(info.min, info.max)
    return y.to(x.dtype).reshape(*lead, *size)


def crop_resize(
    x: Tensor, box: Box, out_size: int | tuple[int, int], *, antialias: bool = True
) -> Tensor:
    """Crop [..., H, W] (a frame, a clip [B,3,T,H,W], a map) to ``box``, resize to ``out_size``."""
    if x.dim() < 2:
        raise ValueError(f"x must be [..., H, W], got shape {tuple(x.shape)}")
    size = (out_size, out_size) if isinstance(out_size, int) else tuple(out_size)
    b = _check_box(box, tuple(x.shape[-2:]))
    return _resize(x[..., b.y0 : b.y1, b.x0 : b.x1], size, antialias)


def paste_back(fine: Tensor, box: Box, full_size: tuple[int, int]) -> Tensor:
    """Inverse of ``crop_resize`` for maps: fine [..., h, w] resized into ``box``, zeros outside."""
    if fine.dim() < 2:
        raise ValueError(f"fine must be [..., h, w], got shape {tuple(fine.shape)}")
    b = _check_box(box, tuple(full_size))
    out = fine.new_zeros(*fine.shape[:-2], int(full_size[0]), int(full_size[1]))
    out[..., b.y0 : b.y1, b.x0 : b.x1] = _resize(fine, (b.height, b.width), antialias=True)
    return out


def temporal_postprocess(
    maps: Tensor,
    *,
    window: int = 5,
    zero_below_mean_mult: float = 3.0,
    normalize: bool = False,
) -> Tensor:
    """The released code's pseudo-GT smoothing (off by default in the pipeline): [T,H,W] -> [T,H,W].

    1. each frame becomes the mean of the ``window`` frames centred on it (truncated at the clip
       ends: the mean is over the frames that exist);
    2. pixels below ``zero_below_mean_mult`` x that frame's (smoothed) mean are set to 0;
    3. optionally (our addition) each frame is divided by its max so the peak is 1.
    """
    _check_map(maps, 3, "maps")
    if window < 1 or window % 2 != 1:
        raise ValueError(f"window must be a positive odd integer, got {window}")
    x = maps.float()
    half = window // 2
    # Window sums via a cumulative sum over time, then divide by how many frames each covers.
    csum = torch.cat([x.new_zeros(1, *x.shape[1:]), x.cumsum(dim=0)])  # [T+1, H, W]
    t = torch.arange(x.shape[0])
    lo, hi = (t - half).clamp(min=0), (t + half + 1).clamp(max=x.shape[0])
    smooth = (csum[hi] - csum[lo]) / (hi - lo).to(x.dtype).view(-1, 1, 1)
    thresh = zero_below_mean_mult * smooth.mean(dim=(1, 2), keepdim=True)
    out = torch.where(smooth < thresh, torch.zeros_like(smooth), smooth)
    if normalize:
        peak = out.amax(dim=(1, 2), keepdim=True)
        out = torch.where(peak > 0, out / torch.where(peak > 0, peak, 1), out)
    return out.to(maps.dtype) if maps.is_floating_point() else out
