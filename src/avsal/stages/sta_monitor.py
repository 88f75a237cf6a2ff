"""What STA training shows per epoch: BCE, CC and NSS against held-out pseudo-GT, and overlays.

Held out = the AVE validation clips' final pseudo-GT maps (Sec. 3.8's targets on clips the net
does not train on). Human fixations are never used here: the reporting split stays untouched
until ``evaluate``, and the tuning split is the tuning trials' business. CC is against the
pseudo-GT map as a continuous map; NSS needs fixation points, and a pseudo-GT map has none, so
its "pseudo-fixations" are the pixels at or above half the map's maximum (its peak regions).
Both use the reference metric functions of :mod:`avsal.metrics.frame`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from avsal.data.datasets import FrameDataset
from avsal.stages.common import infer

__all__ = ["PSEUDO_FIXATION_LEVEL", "val_scores", "overlay_figure"]

#: share of a pseudo-GT map's maximum at or above which a pixel counts as a pseudo-fixation
PSEUDO_FIXATION_LEVEL = 0.5


def pseudo_fixations(gt: np.ndarray) -> np.ndarray:
    """Boolean [H, W]: the peak region of a pseudo-GT map (empty for an all-zero map)."""
    top = float(gt.max())
    return gt >= PSEUDO_FIXATION_LEVEL * top if top > 0 else np.zeros(gt.shape, bool)


def _frame_scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    from avsal.metrics.frame import cc, nss

    fix = pseudo_fixations(gt)
    return cc(pred, gt), (nss(pred, fix) if fix.any() else float("nan"))


def val_scores(
    model: torch.nn.Module, ds: FrameDataset, *, batch_size: int, device: str
) -> dict[str, float]:
    """Mean BCE, CC and NSS over the frames of ``ds`` (NaN-free frames only for CC/NSS)."""
    if len(ds) == 0:
        return {"val_bce": float("nan"), "val_cc": float("nan"), "val_nss": float("nan")}

    def fn(m: torch.nn.Module, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits = m.forward_logits(frame=b["frame"], clip=b["clip"], audio=b["audio"]).float()
        target = b["pseudo"].float()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
        pred = torch.sigmoid(logits).flatten(0, -3).cpu().numpy()  # [B, H, W]
        gt = target.flatten(0, -3).cpu().numpy()
        scores = np.array([_frame_scores(p, g) for p, g in zip(pred, gt)], np.float64)
        return {
            "bce": bce.flatten(1).mean(1),
            "cc": torch.from_numpy(scores[:, 0]),
            "nss": torch.from_numpy(scores[:, 1]),
        }

    out = infer(model, ds, fn, batch_size=batch_size, device=device, desc="val sta")
    return {
        "val_bce": float(out["bce"].mean()),
        "val_cc": _finite_mean(out["cc"]),
        "val_nss": _finite_mean(out["nss"]),
    }


def _finite_mean(values: np.ndarray) -> float:
    """Mean over the frames that have a score (NaN: constant GT, no pseudo-fixation)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def overlay_figure(
    model: torch.nn.Module, ds: FrameDataset, *, count: int = 4, device: str = "cpu"
) -> Any:
    """A figure of ``count`` evenly spaced held-out frames: frame, pseudo-GT, STA over the frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = np.linspace(0, len(ds) - 1, num=min(count, len(ds))).round().astype(int)
    fig, axes = plt.subplots(len(picks), 3, figsize=(7.5, 2.4 * len(picks)), squeeze=False)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for row, k in zip(axes, picks):
                item = ds[int(k)]
                batch = {n: item[n][None].to(device) for n in ("frame", "clip", "audio")}
                pred = torch.sigmoid(model.forward_logits(**batch).float())[0].squeeze().cpu()
                frame = item["frame"].float().permute(1, 2, 0).numpy()  # [H, W, 3]
                frame = (frame - frame.min()) / max(float(frame.max() - frame.min()), 1e-8)
                row[0].imshow(frame)
                row[1].imshow(item["pseudo"].float().squeeze().numpy(), cmap="magma")
                row[2].imshow(frame)
                row[2].imshow(pred.numpy(), cmap="jet", alpha=0.45)
                for ax, title in zip(row, ("held-out frame", "pseudo-GT", "STA")):
                    ax.set_title(title, fontsize=8)
                    ax.axis("off")
    finally:
        model.train(was_training)
    fig.tight_layout()
    return fig
