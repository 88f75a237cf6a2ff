"""The random streams of the two randomised metrics, defined once so that every implementation agrees.

AUC-Judd adds a tiny uniform jitter to the map (MIT: ``rand(size)/1e7``) and s-AUC draws random
subsets of negative locations. The MIT code uses MATLAB's global generator, which no Python code
can reproduce; what matters for us is that the per-frame functions, the batched engine and the
benchmark's baseline consume *the same* numbers, so that they can be compared to machine
precision. Everything random therefore goes through the three helpers here:

- :func:`metric_rng` gives one independent generator per (seed, video, frame, metric), so a
  frame's score does not depend on the order, the chunking or the device it was scored with;
- :func:`jitter_noise` is the MIT jitter drawn from such a generator;
- :func:`sample_subsets` draws the s-AUC negatives (uniform subsets without replacement).

Streams are tied to numpy's SFC64 bit generator and its ``random``/``integers`` algorithms: a numpy
release that changed those would change the jitter and the s-AUC samples (not their distribution).
"""

from __future__ import annotations

import zlib

import numpy as np

#: MIT AUC_Judd: ``saliencyMap + rand(size(saliencyMap))/10000000``.
JITTER_DIVISOR = 1e7

#: One code per randomised metric, part of the seed so the two streams never coincide.
METRIC_STREAMS = {"auc_judd": 1, "auc_shuffled": 2}


def metric_rng(seed: int, video: str, frame: int, metric: str) -> np.random.Generator:
    """Independent generator for one frame of one video and one metric.

    Keyed by content, not by position, so scoring a video in chunks, in another order or on
    another device gives the same numbers. ``video`` enters through its CRC-32.
    """
    if metric not in METRIC_STREAMS:
        raise ValueError(f"no random stream for metric {metric!r}; known: {sorted(METRIC_STREAMS)}")
    if seed < 0 or frame < 0:
        raise ValueError(f"seed and frame must be non-negative, got seed={seed}, frame={frame}")
    entropy = [int(seed), zlib.crc32(video.encode("utf-8")), int(frame), METRIC_STREAMS[metric]]
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(entropy)))


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A Generator from a Generator, an integer seed, or None (seed 0: reproducible by default)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        rng = 0
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.Generator(np.random.SFC64(int(rng)))
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def jitter_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """The MIT jitter, ``rand(shape)/1e7`` in float64, drawn in row-major order."""
    return rng.random(shape) / JITTER_DIVISOR


def draw_at(
    rng: np.random.Generator, n: int, index: np.ndarray, block: int = 1 << 15
) -> np.ndarray:
    """``rng.random(n)[index]`` without holding the ``n`` draws: drawn in cache-sized blocks.

    ``index`` must be sorted ascending. ``random`` consumes one 64-bit output per double, so
    drawing block after block gives the same numbers as one call for all ``n``.
    """
    out = np.empty(index.size)
    buf = np.empty(min(block, max(n, 1)))
    edges = np.searchsorted(index, np.arange(0, n + block, block))  # index range of each block
    for b, start in enumerate(range(0, n, block)):
        size = min(block, n - start)
        rng.random(out=buf[:size])
        lo, hi = edges[b], edges[b + 1]
        if hi > lo:
            out[lo:hi] = buf[index[lo:hi] - start]
    return out


def sample_subsets(rng: np.random.Generator, n: int, k: int, n_splits: int) -> np.ndarray:
    """``n_splits`` independent uniform ``k``-subsets of ``range(n)``, shape ``(n_splits, k)``.

    Floyd's algorithm: for ``i = 0..k-1`` take ``t ~ U{0..n-k+i}`` and keep ``t`` unless it was
    already taken, else keep ``n-k+i``. Every k-subset is equally likely; the order inside a row is
    not uniform, which does not matter because s-AUC only uses the set. It costs ``k`` draws per
    split, not ``n`` like a full permutation (MATLAB's ``randperm``), and all draws happen in one
    call, ``rng.integers(0, [n-k+1, ..., n], size=(n_splits, k))``.
    """
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1, got {n_splits}")
    if not 0 <= k <= n:
        raise ValueError(f"cannot draw {k} of {n} items without replacement")
    out = np.empty((n_splits, k), dtype=np.int64)
    if k == 0:
        return out
    draws = rng.integers(0, np.arange(n - k + 1, n + 1), size=(n_splits, k))  # [S, k]
    # A row whose draws are all distinct never meets a taken value, so Floyd keeps it as drawn
    # (the first replacement needs a repeat among the draws before it). Only rows with a repeat
    # (rare when n >> k) run the algorithm; the result is the same as running it on every row.
    ordered = np.sort(draws, axis=1)
    repeats = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
    out[:] = draws
    for row in repeats.tolist():  # few rows: a plain loop with a set beats column-wise numpy
        out[row] = _floyd_row(draws[row].tolist(), n)
    return out


def _floyd_row(draws: list[int], n: int) -> list[int]:
    """Floyd's algorithm on one row of draws: keep ``t`` unless taken, else take ``n - k + i``."""
    k = len(draws)
    taken: set[int] = set()
    picks = []
    for i, t in enumerate(draws):
        pick = n - k + i if t in taken else t
        taken.add(pick)
        picks.append(pick)
    return picks
