"""Class activation mapping, Eq. 1: CAM = xi[sum_i w_i f_i].

Uses only the nets' public contract (``forward_features``, ``forward_head``,
``get_classifier``), never hooks on module names, so any registered classification net works.
The classifier bias is not part of a CAM (it is spatially constant and vanishes under min-max).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Size = int | tuple[int, int]


def _as_size(out_size: Size) -> tuple[int, int]:
    size = (out_size, out_size) if isinstance(out_size, int) else tuple(out_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"out_size must be a positive int or (H, W), got {out_size}")
    return int(size[0]), int(size[1])


def _class_index(class_idx: int | Tensor, batch: int, num_classes: int) -> Tensor:
    idx = torch.as_tensor(class_idx, dtype=torch.long)
    if idx.dim() == 0:
        idx = idx.expand(batch)
    if idx.shape != (batch,):
        raise ValueError(f"class_idx must be an int or [B]=[{batch}], got {tuple(idx.shape)}")
    if bool(((idx < 0) | (idx >= num_classes)).any()):
        raise ValueError(f"class_idx out of range [0, {num_classes}): {idx.tolist()}")
    return idx


def minmax_normalize(maps: Tensor) -> Tensor:
    """Per-sample min-max to [0, 1] over the last two dims; a constant map gives zeros (no NaN)."""
    if maps.dim() < 2:
        raise ValueError(f"maps must be [..., H, W], got shape {tuple(maps.shape)}")
    flat = maps.flatten(-2)
    lo = flat.min(dim=-1, keepdim=True).values
    hi = flat.max(dim=-1, keepdim=True).values
    span = hi - lo
    out = torch.where(span > 0, (flat - lo) / torch.where(span > 0, span, 1), 0)
    return out.view_as(maps)


def cam_from_features(features: Tensor, weight: Tensor, class_idx: int | Tensor) -> Tensor:
    """Raw Eq. 1 sum before xi: features [B,D,h,w], weight [C,D], class_idx int or [B] -> [B,h,w]."""
    if features.dim() != 4:
        raise ValueError(f"features must be [B,D,h,w], got shape {tuple(features.shape)}")
    if weight.dim() != 2 or weight.shape[1] != features.shape[1]:
        raise ValueError(
            f"weight must be [C,D] with D={features.shape[1]}, got shape {tuple(weight.shape)}"
        )
    idx = _class_index(class_idx, features.shape[0], weight.shape[0]).to(weight.device)
    w = weight[idx].to(features.dtype)  # [B, D]
    return torch.einsum("bd,bdhw->bhw", w, features)


def _cam_maps(
    features: Tensor, classifier: nn.Linear, class_idx: int | Tensor, size: Size
) -> Tensor:
    raw = cam_from_features(features.float(), classifier.weight.float(), class_idx)  # [B,h,w]
    # Upsample first, then normalise: the max is then exactly 1 at full resolution.
    up = F.interpolate(raw.unsqueeze(1), size=_as_size(size), mode="bilinear", align_corners=False)
    return minmax_normalize(up[:, 0])  # [B, H, W]


@torch.no_grad()
def class_activation_map(
    model: nn.Module, inputs: Mapping[str, Tensor], class_idx: int | Tensor, *, out_size: Size
) -> Tensor:
    """CAM of ``class_idx`` for a batch: [B, H, W] in [0, 1], bilinearly resized to ``out_size``.

    ``inputs`` are the net's keyword inputs (``frame``/``clip``/``audio``/``switch_prob``).
    Runs without gradients; put the net in eval mode first (BatchNorm statistics).
    """
    features = model.forward_features(**inputs)  # [B, D, h, w]
    return _cam_maps(features, model.get_classifier(), class_idx, out_size)


@torch.no_grad()
def cam_and_probs(
    model: nn.Module,
    inputs: Mapping[str, Tensor],
    class_idx: int | Tensor | None,
    *,
    out_size: Size,
) -> tuple[Tensor, Tensor, Tensor]:
    """CAM [B, H, W], softmax probabilities [B, C] and the explained class [B], one forward pass.

    SCAM needs both the map and the probabilities.  ``class_idx=None`` (or -1 in every row)
    explains each sample's top-1 class: an untagged video has no tag to explain.
    """
    features = model.forward_features(**inputs)  # [B, D, h, w]
    probs = torch.softmax(model.forward_head(features).float(), dim=1)  # [B, C]
    if class_idx is None or (isinstance(class_idx, Tensor) and bool((class_idx < 0).all())):
        cls = probs.argmax(1)
    else:
        cls = _class_index(class_idx, features.shape[0], probs.shape[1]).to(features.device)
    return _cam_maps(features, model.get_classifier(), cls, out_size), probs, cls
