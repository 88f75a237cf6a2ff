"""`avsal score` on the tiny world: layouts, splits, missing/NaN/unreadable maps, all-or-nothing
output, and the numbers of the evaluate stage's own scoring function on the same arrays."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from avsal.config import load_config, parse_overrides
from avsal.data.datasets import MapStore
from avsal.data.fixations import FixationSet
from avsal.scoring.maps_folder import MissingMaps, UnreadableMap
from avsal.scoring.tool import score_maps, select_videos

SETS = ["AVAD", "DIEM"]


@pytest.fixture
def world(tiny_world, repo_root):
    _, root = tiny_world
    fix_root = root / "fixations"
    cfg = load_config(
        repo_root / "params.yaml",
        parse_overrides(
            [
                f"paths.fixation_root={fix_root}",
                f"paths.published={repo_root / 'references' / 'paper'}",
                "datasets.fixation_sets=[AVAD, DIEM, Coutrot2]",
                "evaluate.s_auc_splits=5",
                "tune.split.fold=2",
            ]
        ),
    )
    return cfg, fix_root


def _gt_maps(fix_root, set_name, video):
    vid = FixationSet(fix_root, set_name).video(video)
    n, _ = vid.check()
    return np.stack([vid.saliency_map(i) for i in range(n)]).astype(np.float32)


def _write_pngs(cfg, fix_root, dst, *, sets=SETS, prefix="pred_"):
    """Each video's GT maps as 8-bit PNGs at half size (any size is allowed), all videos."""
    for set_name in sets:
        for video in select_videos(cfg, FixationSet(fix_root, set_name), "all"):
            d = dst / set_name / video
            d.mkdir(parents=True)
            for i, m in enumerate(_gt_maps(fix_root, set_name, video), start=1):
                small = cv2.resize(m, (m.shape[1] // 2, m.shape[0] // 2))
                img = np.clip(small / max(float(m.max()), 1e-6) * 255, 0, 255).astype(np.uint8)
                cv2.imwrite(str(d / f"{prefix}{i:05d}.png"), img)


def _means(result):
    return result["results"]


def test_all_is_every_fold_test_list_together(world):
    cfg, fix_root = world
    avad = FixationSet(fix_root, "AVAD")
    tests = [e.video for k in avad.folds() for e in avad.fold_entries("test", k)]
    assert select_videos(cfg, avad, "all") == tests and len(set(tests)) == len(tests)
    assert select_videos(cfg, avad, "reporting") == avad.split_videos("test", fold=1)
    assert select_videos(cfg, avad, "fold:2") == avad.split_videos("test", fold=2)
    assert select_videos(cfg, avad, "tuning") == avad.split_videos("train", fold=2)
    with pytest.raises(ValueError, match="fold:K"):
        select_videos(cfg, avad, "everything")


def test_png_folder_scores_like_the_gt_and_writes_every_output(world, tmp_path):
    cfg, fix_root = world
    _write_pngs(cfg, fix_root, tmp_path / "maps")
    (
        tmp_path
        / "maps"
        / "AVAD"
        / select_videos(cfg, FixationSet(fix_root, "AVAD"), "all")[0]
        / "notes.txt"
    ).write_text("x")
    res = score_maps(cfg, tmp_path / "maps", out=tmp_path / "out", sets=SETS, name="GT")
    for set_name in SETS:
        assert _means(res)[set_name]["cc"] > 0.9  # the GT map predicts itself
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {
        "frames.csv",
        "videos.json",
        "sets.json",
        "table.md",
        "run.json",
    }
    table = (out / "table.md").read_text()
    assert "| **GT** | AVAD |" in table and "STANet (paper) | AVAD" in table
    assert json.loads((out / "run.json").read_text())["nan_frames"] == {}


def test_npy_files_and_a_map_store_give_the_evaluate_functions_numbers(world, tmp_path):
    from avsal.stages.evaluate import GroundTruth, score_videos

    cfg, fix_root = world
    rng = np.random.default_rng(0)
    truth, expected, refs, maps = GroundTruth(fix_root), {}, [], []
    videos = select_videos(cfg, FixationSet(fix_root, "DIEM"), "all")
    preds = {}
    for video in videos:
        n = len(_gt_maps(fix_root, "DIEM", video))
        preds[video] = rng.random((n, 12, 16)).astype(np.float32)
        d = tmp_path / "npy" / "DIEM" / video
        d.mkdir(parents=True)
        for i, m in enumerate(preds[video], start=1):
            np.save(d / f"{video}_{i:05d}.npy", m)
        refs += [(video, i) for i in range(n)]
        maps.append(preds[video])
    MapStore(maps=np.concatenate(maps), refs=refs).save(tmp_path / "store" / "DIEM")
    ev = score_videos(cfg, truth, "DIEM", videos, lambda v, n, shape: preds[v])
    expected = ev.datasets.set_index("metric")["value"].round(4).to_dict()
    a = _means(score_maps(cfg, tmp_path / "npy", out=tmp_path / "o1"))["DIEM"]
    b = _means(score_maps(cfg, tmp_path / "store", out=tmp_path / "o2"))["DIEM"]
    assert a == b == expected


def test_missing_frame_names_video_first_frame_and_count(world, tmp_path):
    cfg, fix_root = world
    _write_pngs(cfg, fix_root, tmp_path / "maps", sets=["AVAD"])
    video = select_videos(cfg, FixationSet(fix_root, "AVAD"), "all")[1]
    (tmp_path / "maps" / "AVAD" / video / "pred_00003.png").unlink()
    (tmp_path / "maps" / "AVAD" / video / "pred_00005.png").unlink()
    n = len(_gt_maps(fix_root, "AVAD", video))
    with pytest.raises(
        MissingMaps, match=rf"{video}: 2 of {n} frames have no map \(first missing: frame 3"
    ):
        score_maps(cfg, tmp_path / "maps", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written
    res = score_maps(cfg, tmp_path / "maps", out=tmp_path / "out", allow_missing=True)
    assert res["skipped"] == [{"set": "AVAD", "video": video, "reason": "missing maps"}]
    assert res["videos_scored"] == len(select_videos(cfg, FixationSet(fix_root, "AVAD"), "all")) - 1


def test_nan_frame_is_dropped_and_counted_others_unchanged(world, tmp_path):
    cfg, fix_root = world
    video = select_videos(cfg, FixationSet(fix_root, "DIEM"), "all")[0]
    gt = _gt_maps(fix_root, "DIEM", video)
    d = tmp_path / "maps" / "DIEM" / video
    d.mkdir(parents=True)
    for i, m in enumerate(gt, start=1):
        np.save(d / f"p_{i:05d}.npy", m)
    clean = score_maps(cfg, tmp_path / "maps", out=tmp_path / "a", sets=["DIEM"], split="fold:1")
    del clean
    bad = gt[1].copy()
    bad[0, 0] = np.nan
    np.save(d / "p_00002.npy", bad)
    import pandas as pd

    before = pd.read_csv(tmp_path / "a" / "frames.csv")
    res = score_maps(cfg, tmp_path / "maps", out=tmp_path / "b", sets=["DIEM"], split="fold:1")
    after = pd.read_csv(tmp_path / "b" / "frames.csv")
    assert res["nan_frames"] == {f"DIEM/{video}": 1}
    assert after[after["frame"] == 1]["value"].isna().all()
    keep = after["frame"] != 1
    assert np.allclose(after[keep]["value"], before[keep]["value"], equal_nan=True)


def test_unreadable_file_is_named(world, tmp_path):
    cfg, fix_root = world
    _write_pngs(cfg, fix_root, tmp_path / "maps", sets=["AVAD"])
    video = select_videos(cfg, FixationSet(fix_root, "AVAD"), "all")[0]
    broken = tmp_path / "maps" / "AVAD" / video / "pred_00002.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(UnreadableMap, match=str(broken)):
        score_maps(cfg, tmp_path / "maps", out=tmp_path / "out")


def test_explicit_pattern_picks_the_named_files(world, tmp_path):
    cfg, fix_root = world
    _write_pngs(cfg, fix_root, tmp_path / "maps", sets=["AVAD"], prefix="sal_")
    _write_pngs(cfg, fix_root, tmp_path / "other", sets=["AVAD"], prefix="zzz_")
    for src in (tmp_path / "other" / "AVAD").iterdir():  # a second numbered series beside it
        for f in src.iterdir():
            blank = np.zeros((4, 4), np.uint8)
            cv2.imwrite(str(tmp_path / "maps" / "AVAD" / src.name / f.name), blank)
    a = score_maps(cfg, tmp_path / "maps", out=tmp_path / "a", pattern="sal_%05d.png")
    b = score_maps(cfg, tmp_path / "maps", out=tmp_path / "b", pattern="zzz_%05d.png")
    assert a["results"]["AVAD"]["cc"] > 0.9 and math.isclose(b["results"]["AVAD"]["cc"], 0.0)


def test_cli_score(world, tmp_path, repo_root):
    from avsal.cli import main

    cfg, fix_root = world
    _write_pngs(cfg, fix_root, tmp_path / "maps", sets=["AVAD"])
    args = [
        "--params", str(repo_root / "params.yaml"),
        "-S", f"paths.fixation_root={fix_root}",
        "-S", f"paths.published={repo_root / 'references' / 'paper'}",
        "score", str(tmp_path / "maps"), "--out", str(tmp_path / "out"),
        "--metrics", "cc", "nss", "kld", "--s-auc-splits", "3",
    ]  # fmt: skip
    assert main(args) == 0
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["metrics"] == ["cc", "nss", "kld"] and run["protocol"]["s_auc_splits"] == 3
    assert main([*args[:6], "score", str(tmp_path / "nowhere")]) == 1
