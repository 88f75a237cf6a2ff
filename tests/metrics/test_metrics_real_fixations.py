"""Real human fixations (500 scenes x 12 observers): a centre-bias map beats chance on AUC-Judd
and is near chance on s-AUC, which is what s-AUC exists to show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from avsal.metrics import auc_judd, auc_shuffled, metric_rng, nss, score_video

LONG_SIDE = 128  # images are scored on a grid whose long side is 128 px (fast, same statistics)


def _fixations(real_samples: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Per image all observers' fixations as normalised (y, x) in [0, 1), and the image sizes."""
    root = real_samples / "real_fixations_scene"
    cells = scipy.io.loadmat(root / "fixations.mat")["fixations"]  # 500 x 12 cells of N x 4
    sizes = scipy.io.loadmat(root / "imgInfo.mat")["imgInfo"][0, 0]["size"].astype(
        np.int64
    )  # [500, 2]
    assert cells.shape == (500, 12) and sizes.shape == (500, 2)
    points = []
    for i in range(cells.shape[0]):
        yx = np.concatenate([c[:, :2] for c in cells[i] if c.size], axis=0)  # 1-based [y, x]
        points.append((yx - 0.5) / sizes[i])  # pixel k (1-based) covers [k - 0.5, k + 0.5)
    return points, sizes


def _mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    m = np.zeros(shape, bool)
    ys = np.clip(np.floor(points[:, 0] * h).astype(np.int64), 0, h - 1)
    xs = np.clip(np.floor(points[:, 1] * w).astype(np.int64), 0, w - 1)
    m[ys, xs] = True
    return m


def _centre_bias(shape: tuple[int, int], sd: float = 0.25) -> np.ndarray:
    h, w = shape
    y = (np.arange(h) + 0.5) / h - 0.5
    x = (np.arange(w) + 0.5) / w - 0.5
    return np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2 * sd * sd))


@pytest.fixture(scope="module")
def scenes(real_samples: Path) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    points, sizes = _fixations(real_samples)
    scale = LONG_SIDE / sizes.max(axis=1)
    shapes = [(max(1, round(h * s)), max(1, round(w * s))) for (h, w), s in zip(sizes, scale)]
    return points, shapes


def test_centre_bias_beats_chance_on_auc_judd_but_not_on_shuffled_auc(scenes) -> None:
    points, shapes = scenes
    pick = np.random.default_rng(0)
    judd, shuffled, nsss = [], [], []
    for i, (pts, shape) in enumerate(zip(points, shapes)):
        fix = _mask(pts, shape)
        pred = _centre_bias(shape)
        # negatives: the fixations of 10 other random images (Borji's M = 10), same grid
        others = pick.choice(np.delete(np.arange(len(points)), i), 10, replace=False)
        other = np.zeros(shape, bool)
        for j in others:
            other |= _mask(points[j], shape)
        judd.append(auc_judd(pred, fix, rng=metric_rng(0, "scenes", i, "auc_judd")))
        shuffled.append(
            auc_shuffled(pred, fix, other, rng=metric_rng(0, "scenes", i, "auc_shuffled"))
        )
        nsss.append(nss(pred, fix))
    judd_mean, shuffled_mean = float(np.mean(judd)), float(np.mean(shuffled))
    assert 0.74 < judd_mean < 0.83, judd_mean  # about 0.78: people look at the centre
    assert 0.45 < shuffled_mean < 0.58, shuffled_mean  # s-AUC discounts exactly that
    assert judd_mean - shuffled_mean > 0.15
    assert np.mean(nsss) > 0.8
    assert not np.isnan(judd).any() and not np.isnan(shuffled).any()


def test_engine_on_real_fixations_equals_the_per_frame_functions(scenes) -> None:
    # 60 scenes on a common 96 x 128 grid form one "video"; negatives given per frame
    points, _ = scenes
    idx = list(range(60))
    shape = (96, 128)
    fix = np.stack([_mask(points[i], shape) for i in idx])
    rng = np.random.default_rng(1)
    other = np.stack(
        [
            _mask(
                np.concatenate([points[j] for j in rng.choice(len(points), 10, replace=False)]),
                shape,
            )
            for _ in idx
        ]
    )
    preds = np.broadcast_to(_centre_bias(shape), fix.shape)
    got = score_video(
        preds,
        fix,
        metrics=["auc_judd", "auc_shuffled", "nss"],
        other_fix=other,
        seed=2,
        video="scenes",
    )
    for t in range(len(idx)):
        assert got["auc_judd"][t] == pytest.approx(
            auc_judd(preds[t], fix[t], rng=metric_rng(2, "scenes", t, "auc_judd")), abs=1e-10
        )
        assert got["auc_shuffled"][t] == pytest.approx(
            auc_shuffled(
                preds[t], fix[t], other[t], rng=metric_rng(2, "scenes", t, "auc_shuffled")
            ),
            abs=1e-10,
        )
        assert got["nss"][t] == pytest.approx(nss(preds[t], fix[t]), abs=1e-10)
