"""The shared random streams: subsets are uniform and without replacement, streams are independent."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from avsal.metrics import jitter_noise, metric_rng, sample_subsets
from avsal.metrics.streams import draw_at


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


def _floyd_columnwise(draws: np.ndarray, n: int) -> np.ndarray:
    """Floyd's algorithm written straight from its definition, all rows at once (the reference)."""
    n_splits, k = draws.shape
    out = np.empty_like(draws)
    for i in range(k):
        t = draws[:, i]
        seen = (out[:, :i] == t[:, None]).any(axis=1)
        out[:, i] = np.where(seen, n - k + i, t)
    return out


def test_sampler_equals_plain_floyd_on_every_row() -> None:
    # Small n forces repeats in many rows, large n in few: the sampler keeps rows without a
    # repeat as drawn and runs Floyd on the others; every row must equal plain Floyd.
    for n, k in [(12, 6), (40, 30), (5000, 30), (300, 120), (1000, 200)]:
        draws = np.random.default_rng(n + k).integers(0, np.arange(n - k + 1, n + 1), size=(60, k))

        class Replay:  # hands sample_subsets exactly these draws
            def __init__(self, draws: np.ndarray) -> None:
                self.draws = draws

            def integers(self, *args: object, **kwargs: object) -> np.ndarray:
                return self.draws

        got = sample_subsets(Replay(draws), n, k, 60)  # type: ignore[arg-type]
        np.testing.assert_array_equal(got, _floyd_columnwise(draws, n))


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 15])
def test_block_draws_equal_one_full_draw(block: int) -> None:
    n = 1000
    full = metric_rng(1, "v", 2, "auc_judd").random(n)
    index = np.array([0, 1, 6, 7, 63, 64, 65, 500, 998, 999])
    got = draw_at(metric_rng(1, "v", 2, "auc_judd"), n, index, block)
    np.testing.assert_array_equal(got, full[index])
    assert draw_at(metric_rng(1, "v", 2, "auc_judd"), n, np.array([], dtype=np.int64)).size == 0
