"""Host-side work of the engine: fixation indices and every random draw, with numpy.

Each frame's numbers come from its own stream (:func:`avsal.metrics.streams.metric_rng`), so the
draws do not depend on chunking, threads or device; they are made here, on the host, because the
streams are numpy generators (the per-frame reference functions use the same ones). A chunk's
:class:`Prepared` can be built in a worker thread while another chunk's tensor maths runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from avsal.metrics.inputs import FixationPoints, fixation_stack
from avsal.metrics.streams import draw_at, metric_rng, sample_subsets


@dataclass
class Prepared:
    """Host-side inputs of one chunk, built by :class:`HostWork` (possibly in a helper thread)."""

    fix_pos: np.ndarray  # [t, K] fixated pixel indices, padded with 0
    fix_valid: np.ndarray  # [t, K]
    n_fix: np.ndarray  # [t]
    neg_pos: np.ndarray | None  # [t, S, k] s-AUC negative pixel indices, padded with 0
    neg_valid: np.ndarray | None  # [t, S, k]
    n_neg: np.ndarray | None  # [t] k per frame (0: no negatives)


class HostWork:
    """Everything random or index-like, drawn with numpy from each frame's own stream."""

    def __init__(
        self,
        fix: FixationPoints,
        negatives: NegativeCandidates | None,
        labels: list[int],
        seed: int,
        video: str,
        n_splits: int,
        jitter: bool,
    ) -> None:
        self.fix = fix
        self.negatives, self.labels, self.seed, self.video = negatives, labels, seed, video
        self.n_splits, self.jitter = n_splits, jitter

    def prepare(self, lo: int, hi: int) -> Prepared:
        """Host inputs of frames ``lo:hi``: fixation indices and the s-AUC samples."""
        fix = self.fix.rows(lo, hi)  # [t, P] bool
        pos, valid, n_fix = ragged(fix)
        neg_pos = neg_valid = n_neg = None
        if self.negatives is not None:
            neg_pos, neg_valid, n_neg = self._draw_negatives(lo, fix, n_fix)
        return Prepared(pos, valid, n_fix, neg_pos, neg_valid, n_neg)

    def jitter_at(self, index: int, n_pix: int, pixels: np.ndarray) -> np.ndarray:
        """The MIT jitter's ``rand`` of frame ``index`` (of the video) at sorted ``pixels``."""
        rng = metric_rng(self.seed, self.video, self.labels[index], "auc_judd")
        return draw_at(rng, n_pix, pixels)

    def _draw_negatives(
        self, lo: int, fix: np.ndarray, n_fix: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        t = fix.shape[0]
        picks, ks = [], np.zeros(t, dtype=np.int64)
        for i in range(t):
            cand = self.negatives.candidates(lo + i, fix[i])
            if n_fix[i] == 0 or cand.size == 0:
                picks.append(None)
                continue
            ks[i] = min(int(n_fix[i]), cand.size)
            rng = metric_rng(self.seed, self.video, self.labels[lo + i], "auc_shuffled")
            picks.append(cand[sample_subsets(rng, cand.size, int(ks[i]), self.n_splits)])  # [S, k]
        k_max = max(int(ks.max()), 1)
        pos = np.zeros((t, self.n_splits, k_max), dtype=np.int64)
        valid = np.zeros((t, self.n_splits, k_max), dtype=bool)
        for i, p in enumerate(picks):
            if p is not None:
                pos[i, :, : p.shape[1]] = p
                valid[i, :, : p.shape[1]] = True
        return pos, valid, ks


def ragged(fix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixated pixel indices per row of ``fix [t, P]``: padded ``[t, K]`` matrix, mask, counts."""
    t, n_pix = fix.shape
    rows, cols = np.divmod(np.flatnonzero(fix), n_pix)  # row-major, grouped by frame
    n_fix = np.bincount(rows, minlength=t)  # [t]
    rank = np.arange(rows.size) - np.concatenate(([0], np.cumsum(n_fix)[:-1]))[rows]
    k_max = max(int(n_fix.max()), 1) if t else 1
    pos = np.zeros((t, k_max), dtype=np.int64)
    valid = np.zeros((t, k_max), dtype=bool)
    pos[rows, rank] = cols
    valid[rows, rank] = True
    return pos, valid, n_fix


class NegativeCandidates:
    """Per-frame s-AUC candidate locations (row-major pixel indices), as the per-frame function sees them."""

    def __init__(
        self,
        fix: FixationPoints,
        other_fix: np.ndarray | torch.Tensor | FixationPoints | None,
        video: str,
        labels: list[int],
    ) -> None:
        self.other = None
        self.union = None
        if other_fix is None:
            self.union = fix.union()
        else:
            other = fixation_stack(other_fix, "other-frame fixation maps", video, labels)
            if other.shape != fix.shape:
                raise ValueError(
                    f"video '{video}': other-frame fixation maps have shape {other.shape} "
                    f"but fixation maps have shape {fix.shape}"
                )
            self.other = other

    def candidates(self, index: int, fix_row: np.ndarray) -> np.ndarray:
        """Candidate pixels of frame ``index`` (of the video), ``fix_row [P]`` its fixations."""
        if self.other is not None:
            return self.other.indices[index]
        return self.union[~fix_row[self.union]]  # union of the video minus this frame's fixations
