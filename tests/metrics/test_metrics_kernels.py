"""The fused passes: compiled on this machine, and bit-for-bit the eager numbers where it matters."""

from __future__ import annotations

import torch

from avsal.metrics.kernels import JITTER_MAX, JUDD_BINS, Kernels, judd_bin, map_pass, map_stats


def _inputs(t: int = 5, p: int = 997) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(t, p, generator=gen)  # float32, as networks give
    g = torch.rand(t, p, generator=gen, dtype=torch.float64) ** 3
    lo = x.double().amin(1, keepdim=True)
    scale = JUDD_BINS / (x.double().amax(1, keepdim=True) - lo + JITTER_MAX)
    first = torch.arange(t, dtype=torch.int32)[:, None] * (JUDD_BINS + 2)
    return x, g, lo, scale, first


def test_passes_compile_here_and_match_eager() -> None:
    x, g, lo, scale, first = _inputs()
    sums_at = tuple(torch.rand(5, 1, dtype=torch.float64) + 0.1 for _ in range(5))
    compiled = Kernels(fused=True)
    stats = compiled.map_stats(x, g)
    bins, l1, kl = compiled.map_pass(x, g, (lo, scale, first), sums_at, True, True, True)
    assert not Kernels._broken and {"map_stats", "map_pass"} <= set(Kernels._compiled)
    want_stats = map_stats(x, g)
    want_bins, want_l1, want_kl = map_pass(x, g, (lo, scale, first), sums_at, True, True, True)
    for a, b in zip(stats, want_stats, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=0)
    assert torch.equal(bins, want_bins)  # exact: the AUC-Judd counts rest on it
    torch.testing.assert_close(l1, want_l1, rtol=1e-13, atol=0)
    torch.testing.assert_close(kl, want_kl, rtol=1e-12, atol=0)


def test_edge_pixels_go_to_the_sentinel_bin() -> None:
    x, _, lo, scale, first = _inputs(t=1, p=4)
    # a value just below a bin edge: x + 1e-7 crosses it, so the jitter may move the pixel
    edge = lo + (100.0 / scale) - 0.5 * JITTER_MAX
    x = torch.cat([edge, lo + 50.5 / scale, lo, lo + 3.5 / scale], dim=1)  # [1, 4] float64
    bins, _, _ = map_pass(x, None, (lo, scale, first), None, True, False, False)
    assert bins[0, 0] == JUDD_BINS + 1  # the sentinel
    assert bins[0, 1:].tolist() == judd_bin(x[:, 1:], lo, scale)[0].tolist() == [50, 0, 3]
    no_jitter, _, _ = map_pass(x, None, (lo, scale, first), None, False, False, False)
    assert no_jitter[0, 0] == 99
