"""great-expectations suites on the synthetic world, on real samples, and on corrupted copies."""

import json
import shutil
import subprocess
import sys

import numpy as np

from avsal.data.ave import AVE_CATEGORIES
from avsal.data.synth_files import mat_bytes
from avsal.validation.raw import validate_raw


def _validate(scfg, root, **kw):
    return validate_raw(
        ave_root=root / "AVE_Dataset",
        fixation_root=root / "fixations",
        categories=scfg.categories,
        fixation_sets=list(scfg.fixation_sets),
        **kw,
    )


def test_synthetic_world_passes(tiny_world):
    scfg, root = tiny_world
    res = _validate(scfg, root)
    assert res.success, res.describe()
    names = {s.suite: s.n_records for s in res.suites}
    assert set(names) == {
        "ave_metadata",
        "ave_clips",
        "fixation_lists",
        "fixation_videos",
        "fixation_frames",
    }
    assert names["fixation_frames"] == sum(s.videos * s.frames for s in scfg.fixation_sets.values())


def _assembled_real_layout(real_samples, tmp_path):
    """AVE_Dataset from the 3 real clips (their official split rows) + the real fold lists."""
    ave = tmp_path / "AVE_Dataset"
    (ave / "AVE").mkdir(parents=True)
    for mp4 in (real_samples / "ave_clips").glob("*.mp4"):
        shutil.copy(mp4, ave / "AVE" / mp4.name)
    shutil.copy(real_samples / "ave_clips" / "Annotations.txt", ave / "Annotations.txt")
    ids = {p.stem for p in (ave / "AVE").glob("*.mp4")}
    for split in ("trainSet", "valSet", "testSet"):
        lines = (real_samples / "ave_meta" / f"{split}.txt").read_text().splitlines()
        keep = [lines[0]] + [ln for ln in lines[1:] if ln.split("&")[1] in ids]
        (ave / f"{split}.txt").write_text("\n".join(keep) + "\n")
    fix = tmp_path / "fixations"
    shutil.copytree(real_samples / "fold_lists", fix / "fold_lists")
    return ave, fix


def test_real_samples_pass(real_samples, tmp_path):
    ave, fix = _assembled_real_layout(real_samples, tmp_path)
    res = validate_raw(
        ave_root=ave,
        fixation_root=fix,
        categories=AVE_CATEGORIES,
        fixation_sets=["AVAD", "DIEM", "SumMe", "ETMD", "Coutrot1", "Coutrot2"],
        lists_only=True,
    )
    assert res.success, res.describe()
    clips = next(s for s in res.suites if s.suite == "ave_clips")
    assert clips.n_records == 3


def test_real_samples_without_frames_fail_unless_lists_only(real_samples, tmp_path):
    ave, fix = _assembled_real_layout(real_samples, tmp_path)
    res = validate_raw(
        ave_root=ave, fixation_root=fix, categories=AVE_CATEGORIES, fixation_sets=["ETMD"]
    )
    assert not res.success
    assert any("video_frames/ETMD_av" in e and "frame folder not found" in e for e in res.errors)


def _first_video(root, folder="AVAD"):
    return sorted((root / "fixations" / "video_frames" / folder).iterdir())[0].name


def test_corruptions_are_reported_with_file(tiny_world_copy):
    scfg, root = tiny_world_copy
    ave = root / "AVE_Dataset" / "AVE"
    mp4s = sorted(ave.glob("*.mp4"))
    # 1. truncated mp4
    data = mp4s[0].read_bytes()
    mp4s[0].write_bytes(data[: len(data) // 4])
    # 2. a missing mp4
    mp4s[1].unlink()
    # 3. a missing frame
    vid = _first_video(root)
    (root / "fixations" / "video_frames" / "AVAD" / vid / "img_00003.jpg").unlink()
    # 4. an empty fixation map (no points) and an all-black continuous map in another video
    vid2 = sorted((root / "fixations" / "video_frames" / "DIEM").iterdir())[0].name
    ann = root / "fixations" / "annotations" / "DIEM" / vid2
    for i in range(1, 9):
        (ann / f"fixMap_{i:05d}.mat").write_bytes(mat_bytes({"eyeMap": np.zeros((48, 64))}))
    import cv2

    cv2.imwrite(str(ann / "maps" / "eyeMap_00002.jpg"), np.zeros((48, 64), np.uint8))
    # 5. a corrupt .mat
    vid3 = sorted((root / "fixations" / "video_frames" / "Coutrot_db2").iterdir())[0].name
    (root / "fixations" / "annotations" / "Coutrot_db2" / vid3 / "fixMap_00001.mat").write_bytes(
        b"garbage" * 20
    )

    res = _validate(scfg, root)
    assert not res.success
    text = "\n".join(res.describe())
    assert any(
        mp4s[0].name in line
        and ("cannot open" in line or "corrupt" in line or "unreadable" in line)
        for line in res.describe()
    )
    assert f"{mp4s[1]}" in text and "video file missing" in text
    assert f"{vid}/img_00003.jpg: missing frame" in text
    assert f"DIEM/{vid2}/fixMap_" in text and "fewer than 1 fixation" in text
    assert "empty (all-zero) fixation map" in text
    assert "fixMap_00001.mat: not a readable MATLAB file" in text


def test_mp4_without_audio_is_reported(tiny_world_copy):
    import av

    scfg, root = tiny_world_copy
    victim = sorted((root / "AVE_Dataset" / "AVE").glob("*.mp4"))[0]
    with av.open(str(victim)) as src, av.open(str(victim.with_suffix(".tmp.mp4")), "w") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        for pkt in src.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            dst.mux(pkt)
    victim.with_suffix(".tmp.mp4").replace(victim)
    res = _validate(scfg, root)
    assert not res.success
    assert any("no audio track" in line and victim.name in line for line in res.describe())


def test_cli_exit_code_and_report(tiny_world_copy, tmp_path, repo_root):
    scfg, root = tiny_world_copy
    report = tmp_path / "reports" / "validation_raw.json"
    args = [
        sys.executable,
        "-m",
        "avsal.cli",
        "--params",
        str(repo_root / "params.yaml"),
        "-S",
        f"ave.categories={json.dumps(list(scfg.categories))}",
        "validate-raw",
        "--ave-root",
        str(root / "AVE_Dataset"),
        "--fixation-root",
        str(root / "fixations"),
        "--sets",
        *scfg.fixation_sets,
        "--report",
        str(report),
    ]
    ok = subprocess.run(args, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(report.read_text())["success"] is True
    vid = _first_video(root)
    (root / "fixations" / "video_frames" / "AVAD" / vid / "img_00002.jpg").unlink()
    bad = subprocess.run(args, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "img_00002.jpg: missing frame" in bad.stderr
    saved = json.loads(report.read_text())
    assert saved["success"] is False and any("img_00002.jpg" in line for line in saved["summary"])
    assert not list(report.parent.glob("*.tmp"))
