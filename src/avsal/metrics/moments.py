"""NSS, CC, SIM and KLD on a chunk, from row sums and dot products (pass 1 and pass 2 of
:mod:`avsal.metrics.kernels`), with exact fallbacks for the rows where the sums lose accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from avsal.metrics.chunk import Chunk, GroundTruth
from avsal.metrics.frame import KLD_EPS
from avsal.utils.numerics import ieee_sqrt


class Moments:
    """Row sums and centred second moments of the prediction (and GT) for NSS, CC and SIM.

    Taken from the kernels' raw sums (``sum x``, ``sum x * x``, ...; one read of each map), which
    lose ``eps * mean**2 / var`` of relative accuracy. Rows where that could exceed ~1e-12
    (mean**2 > 1e3 * var, or a minimum far from the mean) are recomputed exactly with centred maps.
    """

    def __init__(self, chunk: Chunk, gt: GroundTruth | None) -> None:
        n = chunk.n_pix
        self.sum_x = chunk.sum_x
        self.ss_x, self.above_x, self.ill_x = centred(chunk.rows, chunk.lo, self.sum_x, chunk.sq_x)
        if gt is None:
            return
        rows_g = lambda r: gt.g[r].double()  # noqa: E731
        self.sum_g = gt.sum_g
        self.ss_g, self.above_g, self.ill_g = centred(rows_g, gt.lo, self.sum_g, gt.sq_g)
        self.cross = gt.xg - self.sum_x * self.sum_g / n  # sum (x - mean_x)(g - mean_g)
        ill = self.ill_x | self.ill_g
        if bool(ill.any()):
            rows = ill.nonzero().squeeze(1)
            xr, gr = chunk.rows(rows), rows_g(rows)
            xc = xr - xr.mean(dim=1, keepdim=True)
            gc = gr - gr.mean(dim=1, keepdim=True)
            self.cross[rows] = (xc * gc).sum(dim=1)


def centred(
    rows_of: Callable[[torch.Tensor], torch.Tensor],
    lo: torch.Tensor,
    total: torch.Tensor,
    squares: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``sum (a - mean)**2``, ``sum (a - min)`` and which rows were ill-conditioned (redone exactly).

    ``rows_of(rows)`` gives those rows of the map in float64.
    """
    n = rows_of(torch.zeros(0, dtype=torch.long, device=lo.device)).shape[1]
    ss = squares - total * total / n
    above = total - n * lo
    ill = (ss <= 1e-3 * squares) | (above <= 1e-3 * (total.abs() + n * lo.abs()))
    if bool(ill.any()):
        rows = ill.nonzero().squeeze(1)
        ar = rows_of(rows)
        ss[rows] = (ar - ar.mean(dim=1, keepdim=True)).square().sum(dim=1)
        above[rows] = (ar - lo[rows, None]).sum(dim=1)
    return ss, above, ill


def nss_chunk(chunk: Chunk, m: Moments) -> np.ndarray:
    """``mean_fix(x) - mean(x)``, both taken relative to the minimum (no cancellation), over sd."""
    sd = ieee_sqrt(m.ss_x / (chunk.n_pix - 1))  # sample std, ddof = 1
    excess = torch.where(chunk.fix_valid, chunk.at_fixations() - chunk.lo[:, None], 0.0)
    fix_excess = excess.sum(1) / chunk.n_fix_t.clamp(min=1).double()
    score = (fix_excess - m.above_x / chunk.n_pix) / sd
    score = torch.where(chunk.constant, 0.0, score).cpu().numpy()
    score[chunk.n_fix == 0] = math.nan
    return score


def cc_chunk(chunk: Chunk, gt: GroundTruth, m: Moments) -> np.ndarray:
    """Pearson correlation per frame ``[t]`` from the centred moments; NaN without ground truth."""
    score = torch.where(chunk.constant, 0.0, m.cross / ieee_sqrt(m.ss_x * m.ss_g))
    return torch.where(gt.constant, math.nan, score).cpu().numpy()


class SimKld:
    """SIM and KLD around pass 2: normalisation factors before it, scores after it.

    SIM: ``sum min(p, q) = 1 - sum |p - q| / 2`` for distributions p, q (no minimum map), with
    ``p = (x - min) / sum(x - min)`` the min-max-then-sum normalisation of frame.sim (a constant
    prediction is uniform, ``p = 1/P``). ``p - q`` is formed as ``a x + c - b g``, which cancels
    badly when a map's magnitude dwarfs its excess over its minimum (not so for saliency maps,
    whose minimum is near 0); such rows are redone with explicit ``x - min``.

    KLD: ``sum q log(eps + q / (p + eps))`` with ``p = x / sum x``, ``q = g / sum g`` (MIT KLdiv:
    no min-max), computed as ``sum g log(eps + g / (sum_g (p + eps))) / sum_g``.
    """

    def __init__(
        self,
        chunk: Chunk,
        gt: GroundTruth,
        m: Moments,
        wanted: list[str],
        where: list[str],
    ) -> None:
        if "kld" in wanted:
            for low, name in ((chunk.lo, "prediction"), (gt.lo, "ground-truth map")):
                neg = low < 0
                if bool(neg.any()):
                    i = int(neg.nonzero()[0, 0])
                    raise ValueError(
                        f"{where[i]}: kld needs a non-negative {name}, min is {float(low[i])}"
                    )
        n = chunk.n_pix
        self.a_x = torch.where(chunk.constant, 0.0, 1.0 / m.above_x)  # [t]
        self.a_g = torch.where(gt.constant, 0.0, 1.0 / m.above_g)
        shift = torch.where(chunk.constant, 1.0 / n, -chunk.lo * self.a_x) + gt.lo * self.a_g
        p_a = torch.where(chunk.constant, 0.0, 1.0 / m.sum_x)  # constant (also all-zero): uniform
        p_eps = torch.where(chunk.constant, 1.0 / n, torch.zeros_like(m.sum_x)) + KLD_EPS  # [t]
        self.args = (
            self.a_x[:, None], shift[:, None], self.a_g[:, None],
            (p_a * m.sum_g)[:, None], (p_eps * m.sum_g)[:, None],
        )  # fmt: skip
        self.chunk, self.gt, self.m = chunk, gt, m

    def sim(self, l1: torch.Tensor) -> np.ndarray:
        chunk, gt, m, n = self.chunk, self.gt, self.m, self.chunk.n_pix
        score = 1.0 - 0.5 * l1
        careful = ~chunk.constant & ((chunk.lo.abs() + chunk.hi.abs()) * n > 1e3 * m.above_x)
        careful |= ~gt.constant & ((gt.lo.abs() + gt.hi.abs()) * n > 1e3 * m.above_g)
        for f in careful.nonzero().squeeze(1).tolist():
            x_f, g_f = chunk.x[f].double(), gt.g[f].double()
            p = (x_f - chunk.lo[f]) * self.a_x[f] if not bool(chunk.constant[f]) else 1.0 / n
            score[f] = 1.0 - 0.5 * (p - (g_f - gt.lo[f]) * self.a_g[f]).abs().sum()
        return torch.where(gt.constant, math.nan, score).cpu().numpy()

    def kld(self, kl: torch.Tensor) -> np.ndarray:
        return torch.where(self.gt.constant, math.nan, kl / self.m.sum_g).cpu().numpy()
