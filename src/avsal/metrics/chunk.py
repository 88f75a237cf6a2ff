"""One chunk of frames on the device, with the pass-1 statistics that every metric shares."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from avsal.metrics.draws import Prepared
from avsal.metrics.inputs import check_finite


class Chunk:
    """One chunk of predictions ``[t, P]`` on the device with what every metric shares."""

    def __init__(
        self, x: torch.Tensor, stats: Sequence[torch.Tensor], prepared: Prepared,
        dev: torch.device, where: list[str],
    ) -> None:  # fmt: skip
        self.x = x  # [t, P] as given (any real dtype); read in float64
        self.n_frames, self.n_pix = x.shape
        self.lo, self.hi, self.sum_x, self.sq_x = stats  # [t] each, float64
        check_finite(self.lo, self.hi, where, "prediction")
        self.constant = self.lo == self.hi  # [t]
        self.span = torch.where(self.constant, 1.0, self.hi - self.lo)  # [t], 1 avoids 0/0
        self.n_fix = prepared.n_fix  # [t] host
        self.fix_pos = torch.from_numpy(prepared.fix_pos).to(dev)  # [t, K]
        self.fix_valid = torch.from_numpy(prepared.fix_valid).to(dev)  # [t, K]
        self.n_fix_t = torch.from_numpy(prepared.n_fix).to(dev)  # [t]
        self.prepared = prepared
        self.dev = dev

    def at_fixations(self) -> torch.Tensor:
        """``x[f, fixated pixels]`` as float64 ``[t, K]`` (padding holds pixel 0; see fix_valid)."""
        return self.x.gather(1, self.fix_pos).double()

    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Whole frames ``x[rows]`` in float64, for the few rows redone with careful formulas."""
        return self.x[rows].double()


class GroundTruth:
    """One chunk of ground-truth maps ``[t, P]`` with its per-frame statistics."""

    def __init__(self, g: torch.Tensor, stats: Sequence[torch.Tensor], where: list[str]) -> None:
        self.g = g  # [t, P] as given (any real dtype); read in float64
        self.lo, self.hi, self.sum_g, self.sq_g, self.xg = stats  # [t] each, float64
        check_finite(self.lo, self.hi, where, "ground-truth map")
        self.constant = self.lo == self.hi  # no ground truth: NaN for cc, sim, kld
