"""STA's per-epoch held-out scores: CC and NSS against pseudo-GT, numbers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from avsal.stages.sta_monitor import overlay_figure, pseudo_fixations, val_scores


class _EchoNet(nn.Module):
    """Predicts the map carried in the frame's first channel (so the scores are known)."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))

    def forward_logits(self, *, frame, clip, audio):
        p = frame[:, :1].clamp(1e-6, 1 - 1e-6)  # [B, 1, H, W]
        return torch.log(p / (1 - p)) + 0 * self.bias


def _item(pred: np.ndarray, gt: np.ndarray) -> dict[str, torch.Tensor]:
    frame = torch.from_numpy(np.stack([pred] * 3)).float()
    return {
        "frame": frame,
        "clip": frame[:, None],
        "audio": torch.zeros(1, 4, 4),
        "pseudo": torch.from_numpy(gt[None]).float(),
    }


def test_pseudo_fixations_are_the_peak_region():
    gt = np.array([[0.0, 0.4], [0.5, 1.0]])
    assert pseudo_fixations(gt).tolist() == [[False, False], [True, True]]
    assert not pseudo_fixations(np.zeros((2, 2))).any()


def test_scores_by_hand():
    gt = np.array([[0.0, 0.0], [0.0, 1.0]])
    # frame 1: the prediction is the GT -> CC 1; NSS: z at (1,1) = (1 - .25) / .5 = 1.5
    # frame 2: the prediction is the GT's complement -> CC -1; NSS -1.5
    # frame 3: all-zero GT -> no CC, no pseudo-fixation (left out of both means)
    ds = [_item(gt, gt), _item(1 - gt, gt), _item(gt, np.zeros((2, 2)))]
    got = val_scores(_EchoNet(), ds, batch_size=2, device="cpu")
    assert math.isclose(got["val_cc"], 0.0, abs_tol=1e-6)
    assert math.isclose(got["val_nss"], 0.0, abs_tol=1e-5)
    one = val_scores(_EchoNet(), ds[:1], batch_size=2, device="cpu")
    assert math.isclose(one["val_cc"], 1.0, abs_tol=1e-5)
    assert math.isclose(one["val_nss"], 1.5, abs_tol=1e-4)
    assert one["val_bce"] < 1e-4


def test_overlay_figure_has_one_row_per_frame():
    gt = np.array([[0.0, 0.0], [0.0, 1.0]])
    fig = overlay_figure(_EchoNet(), [_item(gt, gt)] * 5, count=3)
    assert len(fig.axes) == 9
