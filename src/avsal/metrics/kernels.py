"""The engine's per-pixel passes, written once in torch and, on CPU, compiled into fused loops.

Run eagerly, each torch op below is its own pass over ``[t, P]`` maps with a fresh temporary
(about thirty per frame for the six metrics). ``torch.compile`` (inductor) turns each function
into one loop that reads every map once, keeps the intermediates in registers and vectorises the
log: several times faster on CPU. The
functions are the single definition of these passes; the eager path (CUDA, small videos, a
machine without a C++ compiler) runs the same code, and the tests hold both to the per-frame
functions.

Exactness: the AUC-Judd bins must be one monotone function for every pixel, the same in eager
and compiled code: ``judd_bin`` is correctly rounded IEEE operations and a clamp, which a
compiler may not reassociate or contract into an FMA (and the engine checks that every fixated
pixel lands where its own eager binning says). The reductions may sum in another order, which
moves NSS, CC, SIM and KLD by about 1e-15.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import torch

from avsal.metrics.frame import KLD_EPS
from avsal.metrics.streams import JITTER_DIVISOR

log = logging.getLogger(__name__)

Stats = tuple[torch.Tensor, ...]

#: AUC-Judd histogram bins per frame (more bins: fewer pixels to compare one by one).
JUDD_BINS = 1 << 14
#: An upper bound of the MIT jitter ``rand / 1e7`` (rand < 1, and rounding is monotone).
JITTER_MAX = 1.0 / JITTER_DIVISOR


def map_stats(x: torch.Tensor, g: torch.Tensor | None) -> Stats:
    """Pass 1: per-frame ``min, max, sum, sum of squares`` of ``x [t, P]`` (any real dtype).

    With ``g`` also ``min, max, sum, sum of squares`` of ``g`` and ``sum x * g``; all float64.
    min/max propagate NaN and show Inf, so they double as the finiteness check.
    """
    x = x.double()
    out = [x.amin(dim=1), x.amax(dim=1), x.sum(dim=1), (x * x).sum(dim=1)]
    if g is not None:
        g = g.double()
        out += [g.amin(dim=1), g.amax(dim=1), g.sum(dim=1), (g * g).sum(dim=1), (x * g).sum(dim=1)]
    return tuple(out)


def judd_bin(v: torch.Tensor, lo: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """AUC-Judd histogram bin ``min(trunc((v - lo) * scale), B)``, int32, for float64 ``v``.

    Correctly rounded ops and a clamp: monotone non-decreasing in ``v``, and the same numbers in
    eager and compiled code (nothing for a compiler to reassociate or fuse into an FMA).
    """
    return ((v - lo) * scale).clamp(max=JUDD_BINS).to(torch.int32)


def map_pass(
    x: torch.Tensor,
    g: torch.Tensor | None,
    bins_at: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    sums_at: tuple[torch.Tensor, ...] | None,
    jitter: bool,
    want_sim: bool,
    want_kld: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """Pass 2, everything that needs pass 1's statistics, in one read of the maps.

    - AUC-Judd bins (``bins_at = (lo, scale, first)``, each ``[t, 1]``): int32 ``[t, P]``,
      ``judd_bin(x) + first`` (``first`` offsets each frame in one shared histogram). With the
      jitter, pixels whose ``judd_bin(x + 1e-7)`` differs go to the sentinel bin ``B + 1``: only
      there can the jitter (< 1e-7) move a pixel to another bin.
    - SIM (``sums_at = (a_x, shift, a_g, k_x, k_eps)``, each ``[t, 1]``): ``sum |p - q|`` with
      ``p - q = a_x * x + shift - a_g * g`` (the engine folds the min-max and sum normalisations
      into these factors).
    - KLD: ``sum g * log(eps + g / (k_x * x + k_eps))``, the denominator being ``sum_g (p + eps)``.
    """
    xd = x.double()
    bins = l1 = kl = None
    if bins_at is not None:
        lo, scale, first = bins_at
        bins = judd_bin(xd, lo, scale)
        if jitter:
            bins = torch.where(bins == judd_bin(xd + JITTER_MAX, lo, scale), bins, JUDD_BINS + 1)
        bins = bins + first
    if sums_at is not None:
        a_x, shift, a_g, k_x, k_eps = sums_at
        gd = g.double()
        if want_sim:
            l1 = (xd * a_x + shift - gd * a_g).abs().sum(dim=1)
        if want_kld:
            kl = (gd * torch.log(gd / (xd * k_x + k_eps) + KLD_EPS)).sum(dim=1)
    return bins, l1, kl


class Kernels:
    """The two passes, eager or compiled (lazily, once per process and argument pattern).

    Compiled functions are entered under one lock: dynamo may recompile on a call (a new dtype,
    say), and recompiling from two threads at once is not safe. The engine calls them from one
    thread anyway. A compile failure (no C++ compiler, an unsupported platform) is logged once
    and the eager functions take over: slower, same numbers.
    """

    _lock = threading.Lock()
    _compiled: dict[str, Callable] = {}
    _broken = False

    def __init__(self, fused: bool) -> None:
        self.fused = fused

    def no_recompiles(self) -> contextlib.AbstractContextManager:
        """While worker threads run: compiled code where it fits the input, eager code otherwise.

        (``torch.compiler.set_stance`` is process-wide: other compiled code in this process
        does not recompile meanwhile either; it runs eagerly where its guards fail.)
        """
        if not self.fused:
            return contextlib.nullcontext()
        return torch.compiler.set_stance("eager_on_recompile")

    def __getattr__(self, name: str) -> Callable:
        if name not in _KERNELS:
            raise AttributeError(name)
        fn = _KERNELS[name]
        if not self.fused:
            return fn
        return lambda *args: self._call(name, fn, args)

    @classmethod
    def _call(cls, name: str, fn: Callable, args: tuple) -> tuple[torch.Tensor | None, ...]:
        with cls._lock:
            if cls._broken:
                return fn(*args)
            compiled = cls._compiled.get(name)
            if compiled is None:
                compiled = cls._compiled[name] = torch.compile(fn, dynamic=True, fullgraph=True)
            try:
                return compiled(*args)
            except Exception as err:  # noqa: BLE001 - a compiler failure: go eager, same numbers
                result = fn(*args)  # a bad input raises its own error here
                log.warning("metric kernels: torch.compile failed (%s); running eagerly", err)
                cls._broken = True
                return result


_KERNELS: dict[str, Callable] = {"map_stats": map_stats, "map_pass": map_pass}
