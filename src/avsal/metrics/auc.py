"""The two AUCs on a chunk: AUC-Judd (MIT, with the jitter) and s-AUC (STAViS shuffled AUC).

Both are rank metrics: they count pixels above thresholds, in integers, so the engine's counts
equal the per-frame functions' exactly; only the trapezoid sums may differ in the last bit.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from avsal.metrics.chunk import Chunk
from avsal.metrics.draws import HostWork
from avsal.metrics.frame import _COLON_TOL
from avsal.metrics.kernels import JITTER_MAX, JUDD_BINS, judd_bin
from avsal.metrics.streams import JITTER_DIVISOR


def _flatnonzero(mask: torch.Tensor) -> torch.Tensor:
    """Indices of the true entries of a 1-D mask (numpy's is several times faster on CPU)."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return mask.nonzero().squeeze(1)


class JuddBins:
    """AUC-Judd around pass 2: bin scale and candidate bins before it, exact counts after it.

    MIT AUC-Judd counts, for each fixated value ``a`` of the jittered map ``s = x + rand / 1e7``,
    the pixels with ``s >= a``. A histogram settles most pixels: ``bin(v)`` (kernels.judd_bin) is
    monotone non-decreasing, so a pixel whose bin holds no threshold is above exactly the
    thresholds in lower bins. As ``x <= s <= x + 1e-7``, a pixel with ``bin(x) == bin(x + 1e-7)``
    has ``bin(s) = bin(x)``: pass 2 bins ``x`` alone and never reads a jitter. Its "edge" pixels
    (the two bins differ; about ``1e-7 * scale`` of them) go to a sentinel bin; they and the
    pixels in candidate bins (``bin(x_f) .. bin(x_f + 1e-7)`` of each fixated pixel f, a superset
    of the thresholds' bins) are the few ambiguous pixels. Only those get their jitter (drawn
    block by block from the frame's stream, :func:`~avsal.metrics.streams.draw_at`) and are
    compared one by one. Integer counts: exact.
    """

    def __init__(self, chunk: Chunk, host: HostWork, first_index: int) -> None:
        t, dev = chunk.n_frames, chunk.dev
        self.jitter = host.jitter
        width = chunk.hi - chunk.lo + (JITTER_MAX if self.jitter else 0.0)  # [t], >= s - lo
        scale = JUDD_BINS / width
        usable = (width > 0) & torch.isfinite(width) & torch.isfinite(scale)
        # where the range is 0 or beyond float64, every pixel goes to bin 0 and is compared
        # exactly: scale 0 and lo 0 (values are finite, so (v - 0) * 0 = 0, never inf * 0)
        self.scale = torch.where(usable, scale, 0.0)[:, None]  # [t, 1]
        self.lo = torch.where(usable, chunk.lo, 0.0)[:, None]
        self.n_bins = n_bins = JUDD_BINS + 2  # 0..B, and B + 1: the sentinel of edge pixels
        self.first = torch.arange(t, device=dev, dtype=torch.int32)[:, None] * n_bins  # [t, 1]
        x_f = chunk.at_fixations()  # [t, K]
        low = judd_bin(x_f, self.lo, self.scale).long()
        high = judd_bin(x_f + JITTER_MAX, self.lo, self.scale).long() if self.jitter else low
        valid = chunk.fix_valid.long()
        edges = torch.zeros(t, n_bins + 1, dtype=torch.int64, device=dev)
        edges.scatter_add_(1, low, valid).scatter_add_(1, high + 1, -valid)
        candidate = edges.cumsum(1)[:, :n_bins] > 0  # [t, bins]
        candidate[:, n_bins - 1] = True
        self.candidate = candidate.view(-1)
        self.args = (self.lo, self.scale, self.first)
        self.chunk, self.host, self.first_index = chunk, host, first_index

    def score(self, pix_bin: torch.Tensor) -> np.ndarray:
        """AUC-Judd per frame from pass 2's bins ``[t, P]`` (int32, frame offsets included)."""
        chunk, n_bins = self.chunk, self.n_bins
        t, n_pix, dev = chunk.n_frames, chunk.n_pix, chunk.dev
        flat_bins = pix_bin.view(-1)
        amb = _flatnonzero(self.candidate.index_select(0, flat_bins))  # [m] ascending
        s_amb = chunk.x.reshape(-1)[amb].double()  # [m]
        if self.jitter:
            s_amb = s_amb + self._rand(amb) / JITTER_DIVISOR  # as the per-frame function forms s
        # thresholds: s at the fixated pixels, all among the ambiguous ones
        fix_flat = (torch.arange(t, device=dev)[:, None] * n_pix + chunk.fix_pos)[chunk.fix_valid]
        at = torch.searchsorted(amb, fix_flat).clamp(max=max(amb.numel() - 1, 0))
        if amb.numel() < fix_flat.numel() or not torch.equal(amb[at], fix_flat):
            # pass 2 must bin every pixel exactly as __init__ did; anything else is a compiler bug
            raise RuntimeError("AUC-Judd: the kernel binned a fixated pixel unlike its threshold")
        thr = torch.full(chunk.fix_pos.shape, math.inf, dtype=torch.float64, device=dev)
        thr[chunk.fix_valid] = s_amb[at]
        thr = thr.sort(dim=1).values  # [t, K] ascending, padding (inf) last
        k = thr.shape[1]
        # settled pixels: rank = number of thresholds in lower bins
        thr_bin = judd_bin(thr, self.lo, self.scale) + self.first
        counted = thr_bin.view(-1)[torch.isfinite(thr).view(-1)].long()  # padding left out
        n_thr = torch.zeros(t * n_bins, dtype=torch.int64, device=dev)
        n_thr = n_thr.index_add_(0, counted, torch.ones_like(counted)).view(t, n_bins)
        below = n_thr.cumsum(1) - n_thr  # [t, bins]
        hist = torch.bincount(flat_bins, minlength=t * n_bins).view(t, n_bins)
        settled = torch.where(self.candidate.view(t, n_bins), 0, hist)
        # rank[f, r] = number of pixels with exactly r thresholds <= their value
        rank = torch.zeros(t, k + 1, dtype=torch.int64, device=dev)
        rank.scatter_add_(1, below.clamp(max=k), settled)
        rows = torch.div(amb, n_pix, rounding_mode="floor")
        per_slice = max(1, (1 << 22) // max(k, 1))  # bounds the [m, K] comparison
        for start in range(0, amb.numel(), per_slice):
            r_rows, r_s = rows[start : start + per_slice], s_amb[start : start + per_slice]
            r = (thr.index_select(0, r_rows) <= r_s[:, None]).sum(dim=1)  # [m] exact rank
            rank.view(-1).index_add_(0, r_rows * (k + 1) + r, torch.ones_like(r))
        above = rank.flip(1).cumsum(1).flip(1)[:, 1:]  # [t, K]: #(s >= thr[j])
        return judd_area(chunk, above)

    def _rand(self, amb: torch.Tensor) -> torch.Tensor:
        """The jitter's rand at the ambiguous pixels, frame by frame from each frame's stream."""
        chunk, n_pix = self.chunk, self.chunk.n_pix
        flat = amb.cpu().numpy()
        bounds = np.searchsorted(flat, np.arange(chunk.n_frames + 1) * n_pix)
        rand = np.zeros(flat.size)
        skip = chunk.constant.cpu().numpy() | (chunk.n_fix == 0)  # scored without a jitter
        for f in range(chunk.n_frames):
            lo, hi = bounds[f], bounds[f + 1]
            if hi > lo and not skip[f]:
                pixels = flat[lo:hi] - f * n_pix
                rand[lo:hi] = self.host.jitter_at(self.first_index + f, n_pix, pixels)
        return torch.from_numpy(rand).to(amb.device)


def judd_area(chunk: Chunk, above: torch.Tensor) -> np.ndarray:
    """The MIT ROC area from ``above[f, j] = #(s >= thr[f, j])`` (ascending thresholds)."""
    t, n_pix, dev = chunk.n_frames, chunk.n_pix, chunk.dev
    k = above.shape[1]
    n_fix = chunk.n_fix_t[:, None]  # [t, 1] int64
    # MIT order: i-th largest threshold, i = 1..Nf, is thr[Nf - i]; columns past Nf: (1, 1)
    i = torch.arange(1, k + 1, device=dev)[None, :]  # [1, K] int64
    real = i <= n_fix
    above_i = above.gather(1, (n_fix - i).clamp(min=0))  # [t, K]
    # integer numerators and denominators, one float64 division: as numpy's int / int
    tp = torch.where(real, i.double() / n_fix.double(), 1.0)
    fp = torch.where(real, (above_i - i).double() / (n_pix - n_fix).double(), 1.0)
    zeros = torch.zeros(t, 1, dtype=torch.float64, device=dev)
    ones = torch.ones_like(zeros)
    area = torch.trapezoid(torch.cat([zeros, tp, ones], 1), torch.cat([zeros, fp, ones], 1), dim=1)
    out = torch.where(chunk.constant, 0.5, area).cpu().numpy()
    out[(chunk.n_fix == 0) | (chunk.n_fix == n_pix)] = math.nan
    return out


def auc_shuffled_chunk(chunk: Chunk, n_splits: int, step: float) -> np.ndarray:
    """s-AUC per frame ``[t]``: fixated values against ``n_splits`` samples of negatives."""
    t, dev = chunk.n_frames, chunk.dev
    ks = chunk.prepared.n_neg
    pos = torch.from_numpy(chunk.prepared.neg_pos).to(dev)  # [t, S, k]
    valid = torch.from_numpy(chunk.prepared.neg_valid).to(dev)
    lo, span = chunk.lo[:, None], chunk.span[:, None]  # [t, 1]
    s_fix = (chunk.at_fixations() - lo) / span  # [t, K], normalised as frame._minmax
    s_neg = ((chunk.x.gather(1, pos.view(t, -1)).double() - lo) / span).view(
        t, n_splits, -1
    )  # [t, S, k]
    grid = (
        torch.arange(math.floor(1.0 / step + _COLON_TOL) + 1, dtype=torch.float64, device=dev)
        * step
    )
    grid = grid.flip(0)  # [G] descending, as fliplr(0:step:max); points above max are (0, 0)
    tp = ((s_fix[:, :, None] >= grid) & chunk.fix_valid[:, :, None]).sum(1)  # [t, G]
    tp = tp.double() / chunk.n_fix_t[:, None].clamp(min=1).double()
    k = torch.from_numpy(ks).to(dev).clamp(min=1)[:, None, None].double()
    fp = ((s_neg[..., None] >= grid) & valid[..., None]).sum(2).double() / k  # [t, S, G]
    tp = tp[:, None, :].expand(-1, n_splits, -1)
    zeros = torch.zeros(t, n_splits, 1, dtype=torch.float64, device=dev)
    ones = torch.ones_like(zeros)
    area = torch.trapezoid(torch.cat([zeros, tp, ones], 2), torch.cat([zeros, fp, ones], 2), dim=2)
    score = torch.where(chunk.constant, 0.5, area.mean(dim=1)).cpu().numpy()
    score[(chunk.n_fix == 0) | (ks == 0)] = math.nan
    return score
