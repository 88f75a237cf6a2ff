"""The figures drawn from small arrays: what is on the axes, and that the PNGs are real."""

from __future__ import annotations

import numpy as np
import pytest
from report_inputs import HISTORY_CLS, HISTORY_STA, TRAIN

from avsal.report.figures import (
    QUAL_COLUMNS,
    QualSample,
    draw_qualitative,
    draw_table4_bars,
    draw_training_curves,
    qualitative_figure,
    table4_bars,
    training_curves,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _axes(fig, gid):
    hits = [a for a in fig.axes if a.get_gid() == gid]
    assert len(hits) == 1, gid
    return hits[0]


def test_training_curves_plot_every_history_value() -> None:
    fig = draw_training_curves(TRAIN)
    cls = _axes(fig, "coarse-s")
    (loss,) = cls.get_lines()
    assert list(loss.get_xdata()) == [0, 1, 2]
    np.testing.assert_allclose(loss.get_ydata(), [r["train/loss"] for r in HISTORY_CLS])
    acc = {ln.get_label(): ln.get_ydata() for ln in _axes(fig, "coarse-s:acc").get_lines()}
    assert set(acc) == {"train/acc", "eval/val_acc"}
    np.testing.assert_allclose(acc["eval/val_acc"], [r["eval/val_acc"] for r in HISTORY_CLS])
    # STA: the validation BCE is a loss, on the loss axis; no accuracy axis
    sta = {ln.get_label(): ln.get_ydata() for ln in _axes(fig, "sta").get_lines()}
    assert set(sta) == {"train/loss", "eval/val_bce"}
    np.testing.assert_allclose(sta["eval/val_bce"], [r["eval/val_bce"] for r in HISTORY_STA])
    assert not [a for a in fig.axes if a.get_gid() == "sta:acc"]
    # one legend for the figure; a quantity has the same colour in every panel
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "train loss",
        "validation loss",
        "train accuracy",
        "validation accuracy",
    ]
    colour = {
        ln.get_label(): ln.get_color()
        for a in fig.axes
        for ln in a.get_lines()
        if a.get_gid() in ("coarse-s", "sta")
    }
    assert colour["train/loss"] == "C0" and colour["eval/val_bce"] != colour["train/loss"]
    # a report without history says so in its panel
    texts = " ".join(t.get_text() for t in _axes(fig, "audio_switch").texts)
    assert "no per-epoch history" in texts and "train_loss=0.14" in texts
    png = training_curves(TRAIN)
    assert png[:8] == PNG_MAGIC and len(png) > 10_000
    with pytest.raises(ValueError):
        training_curves({})


def _sample(label: str, *, pseudo: bool) -> QualSample:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    fix = np.zeros((24, 32), bool)
    fix[[3, 10, 20], [4, 16, 30]] = True
    yy, xx = np.mgrid[:12, :16]
    blob = np.exp(-((yy - 5) ** 2 + (xx - 8) ** 2) / 8.0).astype(np.float32)  # half-size map
    return QualSample(label, frame, fix, blob, blob if pseudo else None, blob[::-1].copy())


def test_qualitative_figure_layout_points_and_overlays() -> None:
    samples = [_sample("AVAD v01 #4", pseudo=True), _sample("DIEM v02 #4", pseudo=False)]
    fig = draw_qualitative(samples)
    axes = fig.axes
    assert len(axes) == 8
    assert [a.get_title() for a in axes[:4]] == list(QUAL_COLUMNS)
    assert axes[0].get_ylabel() == "AVAD v01 #4" and axes[4].get_ylabel() == "DIEM v02 #4"
    # the three fixation points, at pixel centres of the frame
    (pts,) = axes[0].collections
    np.testing.assert_allclose(
        sorted(map(tuple, pts.get_offsets())), [(4.5, 3.5), (16.5, 10.5), (30.5, 20.5)]
    )
    # overlays: frame + map stretched over the frame's extent, map min-max normalised
    for ax in (axes[1], axes[2], axes[3]):
        frame_im, map_im = ax.images
        assert map_im.get_extent() == frame_im.get_extent() == [0, 32, 24, 0]
        arr = np.asarray(map_im.get_array())
        assert arr.shape == (12, 16) and arr.min() == 0.0 and arr.max() == pytest.approx(1.0)
    # a missing map is labelled, not silently blank
    assert [t.get_text() for t in axes[6].texts] == ["not available"]
    assert not axes[2].texts
    png = qualitative_figure(samples)
    assert png[:8] == PNG_MAGIC and len(png) > 10_000
    with pytest.raises(ValueError):
        qualitative_figure([])


def test_table4_bars_heights_are_the_numbers() -> None:
    series = {
        "STANet (ours)": {"cc": {"AVAD": 0.6, "DIEM": None}, "nss": {"AVAD": 1.1, "DIEM": 0.9}},
        "STANet (paper)": {
            "cc": {"AVAD": 0.438, "DIEM": 0.469},
            "nss": {"AVAD": 2.018, "DIEM": 1.716},
        },
    }
    fig = draw_table4_bars(series, ["AVAD", "DIEM"], [("cc", "CC"), ("nss", "NSS")])
    cc, nss = fig.axes
    assert cc.get_title() == "CC" and nss.get_title() == "NSS"
    heights = [p.get_height() for p in cc.patches]
    np.testing.assert_allclose(heights, [0.6, np.nan, 0.438, 0.469])
    np.testing.assert_allclose([p.get_height() for p in nss.patches], [1.1, 0.9, 2.018, 1.716])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == list(series)
    assert table4_bars(series, ["AVAD", "DIEM"], [("cc", "CC")])[:8] == PNG_MAGIC
