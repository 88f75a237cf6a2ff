"""A two-level (seeds x videos) percentile bootstrap of a paired difference.

Why this design: the unit of evidence is a video (frames of one video are strongly correlated),
and a training seed is a second, crossed source of variation (every seed's nets score the same
videos). A claim "A > B" is the mean over sets of the per-set mean of the per-video difference
``d[seed, video] = mean_frames(A) - mean_frames(B)`` on the frames both arms scored. Each
resample draws seeds with replacement and, within each set, videos with replacement (sets are
fixed: they are the benchmark, not a sample), so an interval covers what another draw of videos
and seeds could give. With one seed the seed level is a no-op and the interval covers videos only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Interval", "paired_interval", "verdict", "VERDICTS"]

VERDICTS = ("holds", "fails", "undecided")


@dataclass(frozen=True)
class Interval:
    """A difference with its bootstrap interval and how much evidence is behind it."""

    diff: float  # the observed statistic (not the bootstrap mean)
    lo: float
    hi: float
    n_videos: int
    n_seeds: int
    n_sets: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "diff": round(self.diff, 5),
            "lo": round(self.lo, 5),
            "hi": round(self.hi, 5),
            "n_videos": self.n_videos,
            "n_seeds": self.n_seeds,
            "n_sets": self.n_sets,
        }


def verdict(iv: Interval, *, min_videos: int) -> str:
    """``holds`` (interval above 0), ``fails`` (below 0), else ``undecided``.

    Fewer than ``min_videos`` videos behind the interval is undecided whatever it says: a
    resample of one or two videos has (almost) no spread, and its narrow interval would look
    certain. So a set with two videos gets no verdict of its own, while the pool of all sets can.
    """
    if iv.n_sets == 0 or iv.n_videos < min_videos:
        return "undecided"
    if iv.lo > 0:
        return "holds"
    if iv.hi < 0:
        return "fails"
    return "undecided"


def paired_interval(
    diffs: list[np.ndarray],
    *,
    resamples: int,
    level: float,
    seed: int,
) -> Interval:
    """Bootstrap interval of ``mean over sets of mean(d_set)``.

    ``diffs``: one array per set, shape ``[n_seeds, n_videos_of_set]`` (the same seeds in every
    set; finite values). Returns the observed statistic and the ``level`` percentile interval.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    sets = [np.asarray(d, dtype=np.float64) for d in diffs if np.asarray(d).size]
    if not sets:
        return Interval(float("nan"), float("nan"), float("nan"), 0, 0, 0)
    n_seeds = sets[0].shape[0]
    for d in sets:
        if d.ndim != 2 or d.shape[0] != n_seeds:
            raise ValueError(f"every set needs shape [n_seeds={n_seeds}, n_videos], got {d.shape}")
        if not np.isfinite(d).all():
            raise ValueError("differences must be finite (drop NaN frames before aggregating)")
    observed = float(np.mean([d.mean() for d in sets]))
    rng = np.random.default_rng(seed)
    seed_draw = rng.integers(n_seeds, size=(resamples, n_seeds))  # [B, S], shared by the sets
    stats = np.zeros(resamples)
    for d in sets:
        n_videos = d.shape[1]
        video_draw = rng.integers(n_videos, size=(resamples, n_videos))  # [B, V]
        per_seed = d[:, video_draw].mean(axis=2)  # [S, B]: each seed's mean over drawn videos
        stats += np.take_along_axis(per_seed.T, seed_draw, axis=1).mean(axis=1)  # [B]
    stats /= len(sets)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    lo, hi = float(lo), float(hi)
    if np.ptp(np.concatenate([d.ravel() for d in sets])) == 0:
        lo = hi = observed  # a constant difference: zero width, not a float ulp either side
    return Interval(
        diff=observed,
        lo=lo,
        hi=hi,
        n_videos=sum(d.shape[1] for d in sets),
        n_seeds=n_seeds,
        n_sets=len(sets),
    )
