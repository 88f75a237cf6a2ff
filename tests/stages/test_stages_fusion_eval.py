"""Row bookkeeping of SCAM and the evaluation summaries, on hand-computed numbers."""

import numpy as np
import pandas as pd
import pytest

from avsal.data.fixations import FixationSet
from avsal.stages.evaluate import centre_bias, summarise
from avsal.stages.scam_maps import frame_max


def test_two_tag_frames_take_the_pixelwise_max():
    maps = np.array([[[0.2, 0.9]], [[0.7, 0.1]], [[0.5, 0.5]]], np.float32)
    refs, out = frame_max([("v", 0), ("v", 0), ("v", 1)], maps)
    assert refs == [("v", 0), ("v", 1)]
    assert out.tolist() == [[[pytest.approx(0.7), pytest.approx(0.9)]], [[0.5, 0.5]]]


def test_summary_is_frame_mean_per_video_then_unweighted_video_mean():
    rows = []
    # video a: 3 frames (1, 2, 3) -> 2 ; video b: 1 frame (6) and a NaN frame -> 6 ; set mean = 4
    for v, vals in (("a", [1, 2, 3]), ("b", [6, np.nan])):
        for i, x in enumerate(vals):
            rows.append(
                {
                    "method": "m",
                    "dataset": "AVAD",
                    "video": v,
                    "frame": i,
                    "metric": "cc",
                    "value": x,
                }
            )
    out = summarise(pd.DataFrame(rows))
    assert out["m"]["AVAD"]["cc"] == pytest.approx(4.0)  # a frame-weighted mean would give 3.0


def test_centre_bias_peaks_in_the_middle():
    cb = centre_bias((5, 7))
    assert cb.shape == (5, 7) and np.unravel_index(cb.argmax(), cb.shape) == (2, 3)
    assert cb[0, 0] < cb[2, 3] * 0.2


def test_reporting_and_tuning_splits_are_disjoint(real_samples):
    for name in ("AVAD", "Coutrot1", "DIEM"):
        test = set(FixationSet(real_samples, name).split_videos("test", fold=1))
        train = set(FixationSet(real_samples, name).split_videos("train", fold=1))
        assert test and train and not test & train
    with pytest.raises(ValueError, match="fold 7"):
        FixationSet(real_samples, "AVAD").split_videos("test", fold=7)


def test_net_init_is_seeded_from_params_not_from_process_history(cfg):
    import torch

    from avsal.stages.common import build_net

    a = build_net(cfg, "s", num_classes=3, seed_offset=1)
    torch.rand(1000)  # whatever ran before must not matter
    b = build_net(cfg, "s", num_classes=3, seed_offset=1)
    c = build_net(cfg, "s", num_classes=3, seed_offset=2)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())
