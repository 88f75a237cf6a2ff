"""The shared random streams: subsets are uniform and without replacement, streams are independent."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from avsal.metrics import jitter_noise, metric_rng, sample_subsets
from avsal.metrics.streams import _floyd_by_comparison, _floyd_by_table


def test_subsets_have_no_repeats_and_stay_in_range() -> None:
    rng = np.random.default_rng(0)
    for n, k in [(1, 1), (5, 5), (50, 7), (1000, 30), (300, 200)]:
        picks = sample_subsets(rng, n, k, 40)
        assert picks.shape == (40, k)
        assert picks.min() >= 0 and picks.max() < n
        assert all(len(set(row)) == k for row in picks.tolist())


def test_every_subset_is_equally_likely() -> None:
    # n = 5, k = 2: 10 subsets, 30000 draws -> 3000 each, sd 52; chi-square with 9 dof
    picks = sample_subsets(np.random.default_rng(1), 5, 2, 30000)
    counts = {s: 0 for s in itertools.combinations(range(5), 2)}
    for row in np.sort(picks, axis=1).tolist():
        counts[tuple(row)] += 1
    observed = np.array(list(counts.values()))
    chi2 = ((observed - 3000) ** 2 / 3000).sum()
    assert chi2 < 27.9  # p = 0.001 for 9 degrees of freedom


def test_both_duplicate_checks_pick_the_same_subsets() -> None:
    rng = np.random.default_rng(2)
    n, k = 400, 150
    draws = rng.integers(0, np.arange(n - k + 1, n + 1), size=(25, k))
    a, b = np.empty((25, k), np.int64), np.empty((25, k), np.int64)
    _floyd_by_comparison(draws, n, a)
    _floyd_by_table(draws, n, b)
    np.testing.assert_array_equal(a, b)


def test_sampler_rejects_impossible_requests() -> None:
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match="cannot draw 6 of 5"):
        sample_subsets(rng, 5, 6, 1)
    with pytest.raises(ValueError, match="n_splits"):
        sample_subsets(rng, 5, 2, 0)
    assert sample_subsets(rng, 5, 0, 3).shape == (3, 0)


def test_streams_are_keyed_by_seed_video_frame_and_metric() -> None:
    def first(*key: object) -> float:
        return float(metric_rng(*key).random())

    base = first(0, "v", 3, "auc_judd")
    assert first(0, "v", 3, "auc_judd") == base
    others = [
        first(1, "v", 3, "auc_judd"),
        first(0, "w", 3, "auc_judd"),
        first(0, "v", 4, "auc_judd"),
        first(0, "v", 3, "auc_shuffled"),
    ]
    assert base not in others and len(set(others)) == 4
    with pytest.raises(ValueError, match="no random stream"):
        metric_rng(0, "v", 0, "nss")
    with pytest.raises(ValueError, match="non-negative"):
        metric_rng(0, "v", -1, "auc_judd")


def test_jitter_is_mit_rand_over_1e7() -> None:
    noise = jitter_noise(metric_rng(0, "v", 0, "auc_judd"), (30, 40))
    raw = metric_rng(0, "v", 0, "auc_judd").random((30, 40))
    np.testing.assert_array_equal(noise, raw / 1e7)
    assert noise.min() >= 0 and noise.max() < 1e-7
