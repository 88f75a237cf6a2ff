"""Per-frame metrics: golden numbers worked out by hand, properties, and every documented edge case."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avsal.metrics import auc_judd, auc_shuffled, cc, kld, nss, sim

# ----------------------------------------------------------------------------- golden numbers


def test_auc_judd_3x3_by_hand() -> None:
    # values 1..9, fixations on 9 and 5 (Nf = 2, Npix = 9, 7 negatives).
    # thr 9: 1 pixel >= 9 -> tp 1/2, fp (1-1)/7 = 0; thr 5: 5 pixels >= 5 -> tp 1, fp (5-2)/7.
    # curve (0,0) (0,1/2) (3/7,1) (1,1): area 3/7 * 3/4 + 4/7 = 25/28. (The rank AUC would be
    # 22/28: MIT only puts thresholds at the fixated values and joins them with straight lines.)
    sal = np.arange(1, 10, dtype=float).reshape(3, 3)
    fix = np.zeros((3, 3), bool)
    fix[2, 2] = fix[1, 1] = True
    assert auc_judd(sal, fix, jitter=False) == pytest.approx(25 / 28, abs=1e-15)
    # gaps of 1 dwarf a jitter below 1e-7: the same curve, whatever the stream
    for seed in range(5):
        assert auc_judd(sal, fix, rng=seed) == pytest.approx(25 / 28, abs=1e-15)


def test_auc_judd_ties_without_jitter_follow_mit() -> None:
    # one 1 among eight 0s; fixations on the 1 and on a 0. thr 1: tp 1/2, fp 0; thr 0: all 9
    # pixels >= 0, tp 1, fp (9-2)/7 = 1. Curve (0,0) (0,1/2) (1,1) (1,1): area 3/4.
    sal = np.zeros((3, 3))
    sal[1, 1] = 1.0
    fix = np.zeros((3, 3), bool)
    fix[1, 1] = fix[0, 0] = True
    assert auc_judd(sal, fix, jitter=False) == pytest.approx(0.75, abs=1e-15)


def test_auc_judd_jitter_breaks_ties_at_random() -> None:
    # Same map with jitter: the fixated 0 lands among the 8 zeros at a uniformly random rank, so
    # j = 0..7 of the 7 other zeros sit above it: fp = j/7, area = 1/2*(j/7)*... = 1 - j/28.
    # Every outcome is one of those eight values and their mean is 1 - 3.5/28 = 0.875.
    sal = np.zeros((3, 3))
    sal[1, 1] = 1.0
    fix = np.zeros((3, 3), bool)
    fix[1, 1] = fix[0, 0] = True
    allowed = np.array([1 - j / 28 for j in range(8)])
    scores = np.array([auc_judd(sal, fix, rng=seed) for seed in range(800)])
    assert np.abs(scores[:, None] - allowed).min(axis=1).max() < 1e-12
    assert abs(scores.mean() - 0.875) < 0.015  # sd of one score 0.082, of the mean 0.003


def test_auc_shuffled_4x4_by_hand() -> None:
    # min 0 and max 1 in the map, so the MIT normalisation keeps the values. Fixated 0.95 and
    # 0.55; negatives 0.65 and 0.15 (k = 2 of 2: every split takes both, the score is exact).
    # thresholds 0.9..0.0: (fp, tp) = (0,.5) at .9,.8,.7; (.5,.5) at .6; (.5,1) at .5 ... .2;
    # (1,1) at .1 and 0. Area .5*.5 + .5*1 = 0.75 (= 3 of the 4 fixation/negative pairs ordered).
    sal = np.full((4, 4), 0.5)
    sal[0, 0], sal[3, 3] = 0.0, 1.0
    sal[1, 1], sal[2, 2] = 0.95, 0.55
    sal[3, 0], sal[3, 2] = 0.65, 0.15
    fix = np.zeros((4, 4), bool)
    fix[1, 1] = fix[2, 2] = True
    other = np.zeros((4, 4), bool)
    other[3, 0] = other[3, 2] = True
    assert auc_shuffled(sal, fix, other, n_splits=7, rng=3) == pytest.approx(0.75, abs=1e-15)


def test_auc_shuffled_step_sets_the_resolution() -> None:
    # one fixation at 0.95, one negative at 0.92. Step 0.1: both first counted at 0.9, the curve
    # jumps (0,0) -> (1,1): 0.5. Step 0.01: at 0.94 the fixation is in and the negative out,
    # point (0,1): 1.0.
    sal = np.zeros((2, 3))
    sal[0, 2] = 1.0
    sal[0, 1], sal[1, 1] = 0.95, 0.92
    fix = np.zeros((2, 3), bool)
    fix[0, 1] = True
    other = np.zeros((2, 3), bool)
    other[1, 1] = True
    assert auc_shuffled(sal, fix, other, step=0.1) == pytest.approx(0.5, abs=1e-15)
    assert auc_shuffled(sal, fix, other, step=0.01) == pytest.approx(1.0, abs=1e-15)


def test_auc_shuffled_averages_over_random_splits() -> None:
    # Fixated 1.0 and 0.0 (k = 2); candidates .95 .95 .05 .05, so a split draws one of C(4,2) = 6
    # equally likely pairs. With thresholds 1.0, 0.9, ..., 0.0 the (fp, tp) points are
    #   {.95,.95} (1/6): (0,.5) (1,.5) ... (1,1)          -> area .5
    #   {.05,.05} (1/6): (0,.5) ... (0,.5) (1,1)          -> area .75
    #   {.95,.05} (4/6): (0,.5) (.5,.5) ... (1,1)         -> area .25 + .375 = .625
    # so one split gives one of those three values and the mean over splits tends to .625.
    sal = np.full((3, 4), 0.5)
    sal[0, 0], sal[0, 1] = 1.0, 0.0
    sal[1, 0], sal[1, 1], sal[2, 0], sal[2, 1] = 0.95, 0.95, 0.05, 0.05
    fix = np.zeros((3, 4), bool)
    fix[0, 0] = fix[0, 1] = True
    other = np.zeros((3, 4), bool)
    other[1:, :2] = True
    singles = {round(auc_shuffled(sal, fix, other, n_splits=1, rng=seed), 12) for seed in range(60)}
    assert singles == {0.5, 0.75, 0.625}
    many = auc_shuffled(sal, fix, other, n_splits=4000, rng=0)
    assert abs(many - 0.625) < 0.006  # sd of one split .072, of the mean .0011


def test_nss_uses_the_sample_std() -> None:
    # values 0 1 2 3: mean 1.5, sample std sqrt(5/3); the fixated 3 scores 1.5 / sqrt(5/3) = 1.1619
    # (1.3416 with the population std).
    sal = np.array([[0.0, 1.0], [2.0, 3.0]])
    fix = np.array([[False, False], [False, True]])
    assert nss(sal, fix) == pytest.approx(1.5 / math.sqrt(5 / 3), abs=1e-15)
    fix2 = np.array([[True, False], [False, True]])  # z = -1.16 and +1.16
    assert nss(sal, fix2) == pytest.approx(0.0, abs=1e-15)


def test_cc_by_hand() -> None:
    # deviations (-1.5, -.5, .5, 1.5) and (-1.5, .5, -.5, 1.5): 4 / sqrt(5 * 5) = 0.8
    assert cc(
        np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 3.0], [2.0, 4.0]])
    ) == pytest.approx(0.8, abs=1e-15)


def test_sim_by_hand() -> None:
    # prediction min-max (0 .5 1 .5) / 2 = (0 .25 .5 .25); GT (0 0 0 1); minima sum to .25
    sal = np.array([[0.0, 1.0], [2.0, 1.0]])
    gt = np.array([[1.0, 1.0], [1.0, 3.0]])
    assert sim(sal, gt) == pytest.approx(0.25, abs=1e-15)
    # (0 .25 .5 .25) against (.5 .5 0 0) after min-max of (2 2 1 1): minima 0 .25 0 0
    assert sim(sal, np.array([[2.0, 2.0], [1.0, 1.0]])) == pytest.approx(0.25, abs=1e-15)


def test_kld_by_hand_and_its_direction() -> None:
    # p = (1 3 2 2)/8, q = (1 1 0 0)/2: KL(q||p) = .5 ln 4 + .5 ln(4/3); KL(p||q) would be infinite
    sal = np.array([[1.0, 3.0], [2.0, 2.0]])
    gt = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert kld(sal, gt) == pytest.approx(0.5 * math.log(4) + 0.5 * math.log(4 / 3), abs=1e-12)


# ----------------------------------------------------------------------------- properties


def _smooth_map(rng: np.random.Generator, h: int = 24, w: int = 32) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((h, w))
    for _ in range(4):
        cy, cx, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, 6)
        out += rng.uniform(0.3, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_metrics_of_a_map_with_itself(seed: int) -> None:
    x = _smooth_map(np.random.default_rng(seed))
    assert cc(x, x) == pytest.approx(1.0, abs=1e-12)
    assert cc(x, -x) == pytest.approx(-1.0, abs=1e-12)
    assert sim(x, x) == pytest.approx(1.0, abs=1e-12)
    assert kld(x, x) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_positive_affine_rescaling_changes_nothing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _smooth_map(rng)
    gt = _smooth_map(rng)
    fix = rng.random(x.shape) < 0.05
    other = rng.random(x.shape) < 0.1
    y = 7.5 * x + 3.0
    assert nss(y, fix) == pytest.approx(nss(x, fix), abs=1e-12)
    assert cc(y, gt) == pytest.approx(cc(x, gt), abs=1e-12)
    assert sim(y, gt) == pytest.approx(sim(x, gt), abs=1e-12)
    assert auc_judd(y, fix, jitter=False) == auc_judd(x, fix, jitter=False)
    assert auc_judd(y, fix, rng=5) == pytest.approx(auc_judd(x, fix, rng=5), abs=1e-12)
    assert auc_shuffled(y, fix, other, rng=5) == pytest.approx(
        auc_shuffled(x, fix, other, rng=5), abs=1e-12
    )


def test_near_perfect_map_has_auc_judd_above_099() -> None:
    rng = np.random.default_rng(0)
    h, w = 64, 96
    fix = np.zeros((h, w), bool)
    fix[rng.integers(0, h, 12), rng.integers(0, w, 12)] = True
    yy, xx = np.mgrid[0:h, 0:w]
    sal = sum(np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 2.0) for y, x in np.argwhere(fix))
    assert auc_judd(sal, fix) > 0.99
    assert nss(sal, fix) > 5
    inverted = auc_judd(-sal, fix)
    assert inverted < 0.2  # the same map upside down is far below chance


def test_auc_is_chance_for_a_random_map() -> None:
    rng = np.random.default_rng(1)
    fix = rng.random((100, 100)) < 0.02
    scores = [auc_judd(rng.random((100, 100)), fix, rng=i) for i in range(20)]
    assert abs(np.mean(scores) - 0.5) < 0.03


def test_torch_tensors_give_the_numpy_numbers() -> None:
    rng = np.random.default_rng(3)
    x, gt = _smooth_map(rng), _smooth_map(rng)
    fix = rng.random(x.shape) < 0.05
    other = rng.random(x.shape) < 0.1
    tx, tg, tf, to = (torch.from_numpy(a) for a in (x, gt, fix, other))
    assert auc_judd(tx.float(), tf, rng=1) == pytest.approx(
        auc_judd(x.astype(np.float32), fix, rng=1), abs=0
    )
    assert auc_shuffled(tx, tf, to, rng=1) == auc_shuffled(x, fix, other, rng=1)
    assert nss(tx, tf) == nss(x, fix)
    assert cc(tx, tg) == cc(x, gt)
    assert sim(tx, tg) == sim(x, gt)
    assert kld(tx, tg) == kld(x, gt)


def test_rng_makes_the_random_metrics_reproducible() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, (20, 20)).astype(float)  # many ties: the jitter decides
    fix = rng.random(x.shape) < 0.1
    other = rng.random(x.shape) < 0.3
    assert auc_judd(x, fix, rng=11) == auc_judd(x, fix, rng=11)
    assert auc_judd(x, fix, rng=11) != auc_judd(x, fix, rng=12)
    assert auc_shuffled(x, fix, other, n_splits=3, rng=11) == auc_shuffled(
        x, fix, other, n_splits=3, rng=11
    )
    assert auc_shuffled(x, fix, other, n_splits=3, rng=11) != auc_shuffled(
        x, fix, other, n_splits=3, rng=12
    )
    assert auc_judd(x, fix) == auc_judd(x, fix, rng=0)  # None means seed 0


# ----------------------------------------------------------------------------- edge cases


def test_no_fixations_is_nan() -> None:
    x = _smooth_map(np.random.default_rng(5))
    none = np.zeros(x.shape, bool)
    other = np.ones(x.shape, bool)
    assert math.isnan(auc_judd(x, none))
    assert math.isnan(auc_shuffled(x, none, other))
    assert math.isnan(nss(x, none))


def test_gt_map_without_fixations_is_nan() -> None:
    x = _smooth_map(np.random.default_rng(6))
    for gt in (np.zeros(x.shape), np.full(x.shape, 0.3)):
        assert math.isnan(cc(x, gt))
        assert math.isnan(sim(x, gt))
        assert math.isnan(kld(x, gt))


def test_no_negatives_is_nan() -> None:
    x = _smooth_map(np.random.default_rng(7))
    everywhere = np.ones(x.shape, bool)
    fix = np.zeros(x.shape, bool)
    fix[3, 4] = True
    assert math.isnan(auc_judd(x, everywhere))
    assert math.isnan(auc_shuffled(x, fix, np.zeros(x.shape, bool)))


def test_constant_prediction_scores_chance() -> None:
    rng = np.random.default_rng(8)
    gt = _smooth_map(rng)
    fix = rng.random(gt.shape) < 0.05
    other = rng.random(gt.shape) < 0.2
    q = (gt - gt.min()) / (gt - gt.min()).sum()
    uniform = np.full(gt.shape, 1 / gt.size)
    for value in (0.0, 0.42):
        flat = np.full(gt.shape, value)
        assert auc_judd(flat, fix) == 0.5
        assert auc_judd(flat, fix, jitter=False) == 0.5
        assert auc_shuffled(flat, fix, other) == 0.5
        assert nss(flat, fix) == 0.0
        assert cc(flat, gt) == 0.0
        assert sim(flat, gt) == pytest.approx(np.minimum(uniform, q).sum(), abs=1e-15)
        assert kld(flat, gt) == pytest.approx(kld(np.ones(gt.shape), gt), abs=1e-15)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_inf_in_a_prediction_is_an_error_naming_the_frame(bad: float) -> None:
    x = _smooth_map(np.random.default_rng(9))
    x[2, 3] = bad
    fix = np.zeros(x.shape, bool)
    fix[0, 0] = True
    gt = np.ones(x.shape)
    gt[0, 0] = 2
    where = "frame 17 of video 'v3'"
    calls = [
        lambda: auc_judd(x, fix, where=where),
        lambda: auc_shuffled(x, fix, fix, where=where),
        lambda: nss(x, fix, where=where),
        lambda: cc(x, gt, where=where),
        lambda: sim(x, gt, where=where),
        lambda: kld(np.abs(x), gt, where=where),
    ]
    for call in calls:
        with pytest.raises(
            ValueError,
            match=r"frame 17 of video 'v3': prediction contains .*\(first at row/col \(2, 3\)\)",
        ):
            call()


def test_shape_mismatch_is_an_error_with_both_shapes() -> None:
    x = np.random.default_rng(10).random((4, 5))
    fix = np.zeros((5, 4), bool)
    fix[0, 0] = True
    for call in (
        lambda: auc_judd(x, fix),
        lambda: nss(x, fix),
        lambda: cc(x, fix),
        lambda: sim(x, fix),
    ):
        with pytest.raises(ValueError, match=r"\(4, 5\).*\(5, 4\)"):
            call()
    with pytest.raises(ValueError, match=r"other-frame fixation map has shape \(3, 5\)"):
        auc_shuffled(x, np.ones((4, 5), bool), np.ones((3, 5), bool))


def test_other_bad_inputs_raise() -> None:
    x = np.random.default_rng(11).random((4, 5))
    fix = np.zeros((4, 5))
    fix[1, 1] = 1
    with pytest.raises(ValueError, match="2-D"):
        nss(x[None], fix[None])
    with pytest.raises(ValueError, match="empty"):
        nss(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="negative values"):
        nss(x, -fix)
    with pytest.raises(ValueError, match="NaN"):
        nss(x, np.where(fix > 0, math.nan, 0.0))
    with pytest.raises(ValueError, match="non-negative prediction"):
        kld(x - 0.5, x)
    with pytest.raises(ValueError, match="real-valued"):
        nss(x.astype(complex), fix)
    with pytest.raises(ValueError, match="n_splits"):
        auc_shuffled(x, fix, fix, n_splits=0)
    with pytest.raises(TypeError, match="rng"):
        auc_judd(x, fix, rng="seed")  # type: ignore[arg-type]
