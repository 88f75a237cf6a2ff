"""Selective CAM fusion, Eq. 2 with the soft filter of Eq. 3.

SCAM = xi[(sum_k w_k Phi_k + lambda) / (sum_k w_k + lambda)], k over (S, ST, SA), xi = min-max.
The weight rule is chosen by name (``scam.rule``, whose config ``Literal`` lists these three):

- ``"paper"`` (default, Eq. 3): w_k = C_k^v if the tag v is net k's strict top-1 class
  (C_k^v > C_k^u for every u != v; a tie gives 0), else 0;
- ``"official"`` (released code): w_k = max_u C_k^u, the net's top-1 probability whatever the tag;
- ``"average"`` (SCAM_avg of Table 1): w_k = 1, the plain mean.

lambda only matters when every weight is 0: the fusion is then the constant lambda/lambda = 1,
which min-max turns into an all-zero map (no NaN). Otherwise lambda cancels under min-max.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from avsal.cam.activation import minmax_normalize

NUM_SOURCES = 3  # S, ST, SA, in this order


def paper_weights(probs: Tensor, tags: Tensor) -> Tensor:
    """Eq. 3: probs [B,K,C], tags [B] -> [B,K]; the tag's probability if strictly top-1, else 0."""
    p_tag = probs.gather(2, tags.view(-1, 1, 1).expand(-1, probs.shape[1], 1))[..., 0]  # [B,K]
    others = probs.scatter(2, tags.view(-1, 1, 1).expand(-1, probs.shape[1], 1), float("-inf"))
    is_top1 = p_tag > others.max(dim=2).values  # strict: ties are not top-1
    return torch.where(is_top1, p_tag, torch.zeros_like(p_tag))


def official_weights(probs: Tensor, tags: Tensor) -> Tensor:
    """Released code: each net's top-1 probability, whatever the tag. [B,K,C] -> [B,K]."""
    return probs.max(dim=2).values


def average_weights(probs: Tensor, tags: Tensor) -> Tensor:
    """SCAM_avg (Table 1): equal weights. [B,K,C] -> [B,K] of ones."""
    return torch.ones(probs.shape[:2], dtype=probs.dtype, device=probs.device)


#: ``rule(probs [B,K,C], tags [B]) -> weights [B,K]`` by ``scam.rule`` name
FUSION_RULES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "paper": paper_weights,
    "official": official_weights,
    "average": average_weights,
}


def fusion_weights(probs: Tensor, tags: Tensor, *, rule: str = "paper") -> Tensor:
    """The per-net weights w_k of Eq. 2 under ``rule``: probs [B,K,C], tags [B] -> [B,K]."""
    try:
        weights = FUSION_RULES[rule]
    except KeyError:
        raise KeyError(
            f"unknown SCAM fusion rule {rule!r}; available: {', '.join(sorted(FUSION_RULES))}"
        ) from None
    return weights(probs, tags)


def _check(cams: Tensor, probs: Tensor, tags: Tensor, lam: float) -> None:
    if cams.dim() != 4 or cams.shape[1] != NUM_SOURCES:
        raise ValueError(
            f"cams must be [B,{NUM_SOURCES},H,W] (S, ST, SA), got shape {tuple(cams.shape)}"
        )
    if probs.dim() != 3 or probs.shape[:2] != cams.shape[:2]:
        raise ValueError(
            f"probs must be [B,{NUM_SOURCES},C] matching cams {tuple(cams.shape[:2])}, "
            f"got shape {tuple(probs.shape)}"
        )
    if tags.shape != cams.shape[:1]:
        raise ValueError(f"tags must be [B]=[{cams.shape[0]}], got shape {tuple(tags.shape)}")
    if bool(((tags < 0) | (tags >= probs.shape[2])).any()):
        raise ValueError(f"tag out of range [0, {probs.shape[2]}): {tags.tolist()}")
    if not bool(((probs >= 0) & (probs <= 1)).all()):
        raise ValueError("probs must be softmax probabilities in [0, 1] (got logits?)")
    if not lam > 0:
        raise ValueError(f"lam must be > 0 (it avoids 0/0), got {lam}")


def selective_fusion_batch(
    cams: Tensor, probs: Tensor, tags: Tensor | list[int], *, lam: float = 1e-4, rule: str = "paper"
) -> Tensor:
    """Eq. 2 for a batch: cams [B,3,H,W] (S, ST, SA), probs [B,3,C], tags [B] -> [B,H,W] in [0,1]."""
    tags = torch.as_tensor(tags, dtype=torch.long, device=probs.device)
    _check(cams, probs, tags, lam)
    w = fusion_weights(probs.float(), tags, rule=rule).to(cams.device)  # [B, K]
    num = (w[:, :, None, None] * cams.float()).sum(dim=1) + lam  # [B, H, W]
    den = w.sum(dim=1)[:, None, None] + lam  # [B, 1, 1]
    return minmax_normalize(num / den)


def selective_fusion(
    cams: Tensor, probs: Tensor, tag: int, *, lam: float = 1e-4, rule: str = "paper"
) -> Tensor:
    """Eq. 2 for one frame: cams [3,H,W] (S, ST, SA), probs [3,C], tag -> SCAM [H,W] in [0,1]."""
    if cams.dim() != 3:
        raise ValueError(
            f"cams must be [{NUM_SOURCES},H,W] (S, ST, SA), got shape {tuple(cams.shape)}"
        )
    if probs.dim() != 2:
        raise ValueError(f"probs must be [{NUM_SOURCES},C], got shape {tuple(probs.shape)}")
    return selective_fusion_batch(cams[None], probs[None], [int(tag)], lam=lam, rule=rule)[0]
