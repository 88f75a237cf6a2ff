"""The protocol: pre-processing by hand, NaN dropping, frame-then-video means, errors."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from avsal.metrics import (
    Evaluation,
    ProtocolConfig,
    VideoInput,
    evaluate,
    preprocess,
    score_video,
    summarise,
)
from avsal.metrics.protocol import (
    _symmetric_index,
    gaussian_blur,
    gaussian_blur_torch,
    gaussian_kernel,
    normalise,
    resize,
)


def test_gaussian_kernel_is_fspecials() -> None:
    k = gaussian_kernel(2.0)
    assert k.shape == (13,)  # 2*ceil(3*2)+1
    assert k.sum() == pytest.approx(1.0, abs=1e-15)
    assert k[6] / k[8] == pytest.approx(math.exp(4 / 8), rel=1e-14)  # exp(-x^2/(2 sigma^2)) ratios
    assert gaussian_kernel(0.5).shape == (5,)


def test_symmetric_padding_repeats_the_edge_pixel() -> None:
    # MATLAB 'symmetric': [a b c] padded by 2 -> b a | a b c | c b
    assert _symmetric_index(3, 2, torch.device("cpu")).tolist() == [1, 0, 0, 1, 2, 2, 1]
    # padding wider than the axis keeps folding
    assert _symmetric_index(2, 3, torch.device("cpu")).tolist() == [
        1,
        1,
        0,
        0,
        1,
        1,
        0,
        0,
    ]  # b b a|a b|b a a


def test_blur_by_hand_on_an_impulse_and_a_constant() -> None:
    x = torch.zeros(1, 21, 21, dtype=torch.float64)
    x[0, 10, 10] = 1.0
    k = gaussian_kernel(2.0)
    blurred = gaussian_blur(x, 2.0)[0].numpy()
    np.testing.assert_allclose(blurred[4:17, 4:17], np.outer(k, k), rtol=0, atol=1e-16)
    assert blurred.sum() == pytest.approx(1.0, abs=1e-14)
    flat = gaussian_blur(torch.full((2, 7, 9), 0.25, dtype=torch.float64), 3.0)
    np.testing.assert_allclose(
        flat.numpy(), 0.25, rtol=0, atol=1e-15
    )  # symmetric borders: no dark rim


def test_cpu_and_torch_blurs_agree_with_opencv_gaussian_blur() -> None:
    x = torch.from_numpy(np.random.default_rng(0).random((3, 17, 30)))
    a = gaussian_blur(x, 2.0)
    b = gaussian_blur_torch(x, 2.0)
    c = np.stack(
        [cv2.GaussianBlur(f, (13, 13), 2.0, borderType=cv2.BORDER_REFLECT) for f in x.numpy()]
    )
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(a.numpy(), c, rtol=0, atol=1e-15)
    assert gaussian_blur(x, 0.0) is x


def test_normalise_and_resize() -> None:
    x = torch.tensor([[[2.0, 4.0], [6.0, 10.0]], [[3.0, 3.0], [3.0, 3.0]]], dtype=torch.float64)
    n = normalise(x)
    assert n[0].tolist() == [[0.0, 0.25], [0.5, 1.0]]
    assert n[1].tolist() == [[0.0, 0.0], [0.0, 0.0]]  # constant frame: zeros
    up = resize(torch.full((1, 3, 4), 0.5, dtype=torch.float64), (9, 16))
    assert up.shape == (1, 9, 16) and torch.allclose(up, torch.tensor(0.5, dtype=torch.float64))
    # bilinear, align_corners=False: 1x2 -> 1x4 gives a a' b' b with quarter weights
    row = resize(torch.tensor([[[0.0, 4.0]]], dtype=torch.float64), (1, 4))
    assert row[0, 0].tolist() == [0.0, 1.0, 3.0, 4.0]


def test_blur_order_matters_only_when_sizes_differ() -> None:
    x = torch.from_numpy(np.random.default_rng(1).random((2, 30, 40)))
    same_gt = preprocess(x, (30, 40), sigma=2.0, blur_at="gt")
    same_pred = preprocess(x, (30, 40), sigma=2.0, blur_at="prediction")
    assert torch.allclose(same_gt, same_pred, rtol=0, atol=1e-15)
    big_gt = preprocess(x, (60, 80), sigma=2.0, blur_at="gt")
    big_pred = preprocess(x, (60, 80), sigma=2.0, blur_at="prediction")
    assert big_gt.shape == big_pred.shape == (2, 60, 80)
    assert (big_gt - big_pred).abs().max() > 1e-3  # 2 px at 60x80 is 1 px at 30x40
    with pytest.raises(ValueError, match="blur_at"):
        preprocess(x, (30, 40), blur_at="both")


def test_summaries_drop_nan_frames_and_weight_videos_equally() -> None:
    frames = pd.DataFrame(
        {
            "dataset": ["d"] * 6,
            "video": ["a", "a", "a", "b", "c", "c"],
            "frame": [0, 1, 2, 0, 0, 1],
            "metric": ["nss"] * 6,
            "value": [1.0, math.nan, 3.0, 10.0, math.nan, math.nan],
        }
    )
    videos, datasets = summarise(frames)
    a, b, c = (videos[videos.video == v].iloc[0] for v in "abc")
    assert (a.value, a.n_frames, a.n_dropped) == (2.0, 2, 1)
    assert (b.value, b.n_frames, b.n_dropped) == (10.0, 1, 0)
    assert math.isnan(c.value) and (c.n_frames, c.n_dropped) == (0, 2)
    row = datasets.iloc[0]
    assert row.value == 6.0 and row.n_videos == 2  # (2 + 10) / 2, not (1 + 3 + 10) / 3


def _clip(
    rng: np.random.Generator,
    name: str,
    t: int = 6,
    pred_size: tuple[int, int] = (12, 16),
    size: tuple[int, int] = (24, 32),
) -> VideoInput:
    fix = rng.random((t, *size)) < 0.03
    fix[:, 12, 16] = True
    gt = np.stack([cv2.GaussianBlur(f.astype(np.float64), (0, 0), 2.0) for f in fix])
    return VideoInput(name, rng.random((t, *pred_size)).astype(np.float32), fix, gt)


def test_evaluate_is_preprocess_then_engine_then_means() -> None:
    rng = np.random.default_rng(2)
    clips = [_clip(rng, "v0"), _clip(rng, "v1", t=4)]
    blank = _clip(rng, "v2", t=3)
    blank.fix[1] = False  # frame 1: nobody looked
    blank.gt_maps[1] = 0.0
    config = ProtocolConfig(seed=3)
    ev = evaluate({"setA": clips + [blank], "setB": clips[:1]}, config)
    assert isinstance(ev, Evaluation)
    assert list(ev.frames.columns) == ["dataset", "video", "frame", "metric", "value"]
    assert len(ev.frames) == (6 + 4 + 3 + 6) * 5
    for clip in clips + [blank]:
        x = preprocess(torch.from_numpy(clip.preds).double(), (24, 32), sigma=2.0)
        want = score_video(x, clip.fix, clip.gt_maps, seed=3, video=clip.name)
        got = ev.frames[(ev.frames.dataset == "setA") & (ev.frames.video == clip.name)]
        for metric, values in want.items():
            np.testing.assert_allclose(
                got[got.metric == metric].value.to_numpy(), values, rtol=0, atol=1e-12
            )
    v2 = ev.videos[(ev.videos.video == "v2") & (ev.videos.dataset == "setA")]
    assert (v2.n_dropped == 1).all() and (v2.n_frames == 2).all()
    means = ev.videos[ev.videos.dataset == "setA"].groupby("metric").value.mean()
    table = ev.table()
    assert list(table.columns) == ["auc_judd", "sim", "auc_shuffled", "cc", "nss"]
    for metric in table.columns:
        assert table.loc["setA", metric] == pytest.approx(means[metric], abs=1e-15)
    assert table.loc["setB"].to_dict() == pytest.approx(
        ev.videos[(ev.videos.dataset == "setA") & (ev.videos.video == "v0")]
        .set_index("metric")
        .value.to_dict()
    )


def test_protocol_ignores_the_scale_of_the_predictions() -> None:
    rng = np.random.default_rng(4)
    clip = _clip(rng, "v")
    scaled = VideoInput("v", clip.preds * 40.0 + 3.0, clip.fix, clip.gt_maps)
    metrics = ("auc_judd", "sim", "auc_shuffled", "cc", "nss", "kld")
    a = evaluate({"d": [clip]}, ProtocolConfig(metrics=metrics)).frames.value.to_numpy()
    b = evaluate({"d": [scaled]}, ProtocolConfig(metrics=metrics)).frames.value.to_numpy()
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_protocol_errors_name_the_video_and_frame() -> None:
    rng = np.random.default_rng(5)
    clip = _clip(rng, "clip7")
    clip.preds[4, 3, 3] = np.nan
    with pytest.raises(ValueError, match=r"frame 4 of video 'clip7': prediction contains NaN"):
        evaluate({"d": [clip]})
    good = _clip(rng, "a")
    with pytest.raises(ValueError, match=r"duplicate video names \['a'\]"):
        evaluate({"d": [good, good]})
    with pytest.raises(ValueError, match="unknown metrics"):
        ProtocolConfig(metrics=("auc",))
    with pytest.raises(ValueError, match="sigma"):
        ProtocolConfig(sigma=-1.0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_protocol_on_cuda_equals_cpu() -> None:
    # resize and blur on the GPU, then the engine on the GPU: the CPU's numbers
    rng = np.random.default_rng(6)
    clips = [_clip(rng, "v0"), _clip(rng, "v1", t=4)]
    metrics = ("auc_judd", "sim", "auc_shuffled", "cc", "nss", "kld")
    config = ProtocolConfig(metrics=metrics, seed=2)
    cpu = evaluate({"d": clips}, config).frames.value.to_numpy()
    gpu = evaluate({"d": clips}, config, device="cuda").frames.value.to_numpy()
    np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-9)
