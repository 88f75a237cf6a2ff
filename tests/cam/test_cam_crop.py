"""Coarse to fine: boxes on constructed maps, crops, paste-back, temporal post-processing."""

from __future__ import annotations

import pytest
import torch

from avsal.cam import (
    Box,
    binarize,
    box_from_map,
    clip_box,
    crop_resize,
    paste_back,
    scale_box,
    temporal_postprocess,
)


def _blob(h: int, w: int, y0: int, x0: int, y1: int, x1: int, value: float = 1.0) -> torch.Tensor:
    m = torch.zeros(h, w)
    m[y0:y1, x0:x1] = value
    return m


def test_box_is_tight_around_pixels_above_k_times_mean() -> None:
    m = _blob(10, 12, 2, 5, 5, 8)  # 9 pixels of 1 -> mean 9/120; 2 x mean = 0.15
    m[0, 0] = 0.1  # below 2 x mean: ignored
    assert box_from_map(m) == Box(2, 5, 5, 8)
    assert box_from_map(m).height == 3 and box_from_map(m).width == 3
    # k changes the threshold: at k = 1 (mean ~0.0758) the 0.1 pixel joins.
    assert box_from_map(m, k=1.0) == Box(0, 0, 5, 8)
    assert binarize(m).sum() == 9


def test_empty_mask_gives_full_frame() -> None:
    assert box_from_map(torch.full((6, 7), 0.3)) == Box(0, 0, 6, 7)
    assert box_from_map(torch.zeros(6, 7)) == Box(0, 0, 6, 7)


def test_clip_boxes_union_and_mean() -> None:
    a = _blob(10, 10, 1, 1, 3, 3)
    b = _blob(10, 10, 6, 5, 9, 8)
    empty = torch.zeros(10, 10)
    maps = torch.stack([a, b, empty])
    assert clip_box(maps, mode="union") == Box(1, 1, 9, 8)  # the empty frame is skipped
    # Mean map: a/3 on 4 px, b/3 on 9 px; mean 13/300; 2 x mean ~ 0.087 < 1/3: both blobs.
    assert clip_box(maps, mode="mean") == Box(1, 1, 9, 8)
    # With one blob 10x weaker, the mean map's threshold drops it.
    weak = torch.stack([a * 0.01, b])
    assert clip_box(weak, mode="mean") == Box(6, 5, 9, 8)
    assert clip_box(torch.zeros(2, 4, 5)) == Box(0, 0, 4, 5)
    with pytest.raises(ValueError, match="mode"):
        clip_box(maps, mode="max")  # type: ignore[arg-type]


def test_crop_resize_frames_and_clips() -> None:
    clip = torch.rand(2, 3, 5, 16, 20)  # [B,3,T,H,W]
    box = Box(4, 6, 12, 14)
    same = crop_resize(clip, box, (8, 8))
    assert torch.equal(same, clip[..., 4:12, 6:14])
    big = crop_resize(clip, box, 32)
    assert big.shape == (2, 3, 5, 32, 32)
    frames = (torch.rand(3, 16, 20) * 255).to(torch.uint8)
    out = crop_resize(frames, box, (4, 4))
    assert out.dtype == torch.uint8 and out.shape == (3, 4, 4)
    # A constant crop stays constant after resizing.
    const = torch.full((1, 16, 20), 0.25)
    assert torch.allclose(crop_resize(const, box, (13, 7)), torch.full((1, 13, 7), 0.25))
    with pytest.raises(ValueError, match="outside"):
        crop_resize(clip, Box(0, 0, 17, 5), 8)
    with pytest.raises(ValueError, match="empty"):
        crop_resize(clip, Box(3, 3, 3, 8), 8)


def test_paste_back_inverts_crop() -> None:
    full = torch.rand(12, 15)
    box = Box(2, 3, 9, 11)
    fine = crop_resize(full, box, (box.height, box.width))
    back = paste_back(fine, box, (12, 15))
    assert torch.equal(back[2:9, 3:11], full[2:9, 3:11])
    outside = torch.ones(12, 15, dtype=torch.bool)
    outside[2:9, 3:11] = False
    assert back[outside].abs().sum() == 0
    # Through a resize: a constant fine map fills exactly the box.
    pasted = paste_back(torch.ones(1, 32, 32), box, (12, 15))
    assert pasted.shape == (1, 12, 15) and pasted.sum() == box.height * box.width
    assert torch.equal(pasted[0] > 0, ~outside)


def test_scale_box_rounds_outwards() -> None:
    assert scale_box(Box(2, 3, 9, 11), (12, 15), (24, 30)) == Box(4, 6, 18, 22)
    # 256 -> 240x320: y 10*240/256 = 9.375 -> 9, 100*240/256 = 93.75 -> 94; x 10*1.25=12.5->12
    assert scale_box(Box(10, 10, 100, 101), (256, 256), (240, 320)) == Box(9, 12, 94, 127)


def test_temporal_postprocess_known_answer() -> None:
    # Three 1x4 frames. Window 3 (truncated at the ends), then zero below 1.5 x frame mean.
    maps = torch.tensor(
        [
            [[4.0, 0.0, 0.0, 0.0]],
            [[0.0, 4.0, 0.0, 0.0]],
            [[0.0, 0.0, 4.0, 0.0]],
        ]
    )
    out = temporal_postprocess(maps, window=3, zero_below_mean_mult=1.5)
    # smoothed: f0 = (m0+m1)/2 = [2,2,0,0]; f1 = [4/3]*3+[0]; f2 = (m1+m2)/2 = [0,2,2,0]
    # means 1, 1, 1 -> threshold 1.5: keep 2s and 4/3 < 1.5 is zeroed.
    expected = torch.tensor(
        [
            [[2.0, 2.0, 0.0, 0.0]],
            [[0.0, 0.0, 0.0, 0.0]],
            [[0.0, 2.0, 2.0, 0.0]],
        ]
    )
    assert torch.allclose(out, expected)
    norm = temporal_postprocess(maps, window=3, zero_below_mean_mult=1.5, normalize=True)
    assert torch.allclose(norm, expected / 2)
    # Defaults (window 5, 3 x mean) on a single frame: only the peak survives.
    single = torch.tensor([[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]])
    assert torch.equal(temporal_postprocess(single), single)
    with pytest.raises(ValueError, match="odd"):
        temporal_postprocess(maps, window=4)
    with pytest.raises(ValueError, match=r"\[T,H,W\]"):
        temporal_postprocess(maps[0, 0])
