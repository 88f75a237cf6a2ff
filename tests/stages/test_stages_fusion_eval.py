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


def test_ground_truth_keeps_points_and_reads_the_maps_lazily(tiny_world):
    from avsal.stages.evaluate import GroundTruth

    _, root = tiny_world
    fs = FixationSet(root / "fixations", "AVAD")
    video = fs.all_entries()[0].video
    fix, gt = GroundTruth(root / "fixations").get("AVAD", video)
    vid = fs.video(video)
    n, shape = vid.check()
    dense = np.stack([vid.fixations(i, shape=shape) for i in range(n)])
    assert fix.shape == gt.shape == dense.shape
    np.testing.assert_array_equal(fix.rows(0, n).reshape(dense.shape), dense)
    np.testing.assert_array_equal(gt[n - 1], vid.saliency_map(n - 1))


def test_video_maps_are_views_of_the_store_not_copies():
    from avsal.data.datasets import MapStore
    from avsal.stages.evaluate import video_maps

    maps = np.arange(5 * 3 * 2 * 2, dtype=np.float16).reshape(5, 3, 2, 2)  # [N, C, H, W]
    store = MapStore(maps=maps, refs=[("a", 0), ("a", 1), ("b", 0), ("b", 1), ("b", 2)])
    got = video_maps(store, "b", 3, channel=1)
    assert np.shares_memory(got, maps)  # read by the scorer chunk by chunk, not here
    np.testing.assert_array_equal(got, maps[2:5, 1])
    shuffled = MapStore(maps=maps[[1, 3, 0, 4, 2]], refs=[store.refs[k] for k in [1, 3, 0, 4, 2]])
    lazy = video_maps(shuffled, "b", 3, channel=1)  # out of order: one row at a time, in order
    assert lazy.shape == (3, 2, 2)
    np.testing.assert_array_equal(np.stack([lazy[k] for k in range(3)]), maps[2:5, 1])
    with pytest.raises(ValueError, match="a: 2 predicted frames, the set has 3"):
        video_maps(store, "a", 3)
