"""Fold lists (real, from references/samples) and the STAViS-layout reader (tiny synthetic world)."""

import numpy as np
import pytest

from avsal.data.fixations import FixationDataError, FixationSet, read_fixmap, read_fold_list
from avsal.data.synth_files import mat_bytes

REAL_SETS = ["AVAD", "Coutrot1", "Coutrot2", "ETMD", "SumMe", "DIEM"]


@pytest.mark.parametrize("name", REAL_SETS)
def test_real_fold_lists(real_samples, name):
    fs = FixationSet(real_samples, name)
    folds = fs.folds()
    assert folds == ([None] if name == "DIEM" else [1, 2, 3])
    entries = fs.all_entries()
    assert entries and all(e.n_frames > 0 and 10 < e.fps < 61 for e in entries)
    for fold in folds:
        train = {e.video for e in fs.fold_entries("train", fold)}
        test = {e.video for e in fs.fold_entries("test", fold)}
        assert test and not train & test


def test_real_list_line_values(real_samples):
    # the first line of the real AVAD test list of fold 1, as published
    first = read_fold_list(real_samples / "fold_lists" / "AVAD_list_test_1_fps.txt")[0]
    assert (first.video, first.n_frames) == ("V32_Dancers", 202)
    assert first.fps == pytest.approx(28.666571)


def test_malformed_fold_list(tmp_path):
    p = tmp_path / "AVAD_list_test_1_fps.txt"
    p.write_text("V1 10 25.0\nV2 ten 25\n")
    with pytest.raises(FixationDataError, match=r"AVAD_list_test_1_fps.txt:2"):
        read_fold_list(p)


def test_reader_on_synthetic_world(tiny_world):
    scfg, root = tiny_world
    fs = FixationSet(root / "fixations", "AVAD")
    assert fs.folds() == [1, 2]
    entries = fs.all_entries()
    assert len(entries) == scfg.fixation_sets["AVAD"].videos
    v = fs.video(entries[0].video)
    n, (h, w) = v.check(expected_frames=entries[0].n_frames)
    assert (n, h, w) == (8, 48, 64)
    assert v.frame_path(0).name == "img_00001.jpg"  # 1-based on disk, 0-based in code
    assert v.frame(0).shape == (48, 64, 3)
    smap = v.saliency_map(0)
    assert (
        smap.dtype == np.float32 and 0 <= smap.min() and smap.max() == pytest.approx(1.0, abs=0.02)
    )
    fix = v.fixations(0)
    assert fix.dtype == bool and 1 <= fix.sum() <= scfg.fixation_sets["AVAD"].observers
    # the continuous map peaks where the binary points are
    assert smap[fix].mean() > smap.mean() * 3
    assert v.audio(rate=16000).shape[0] == pytest.approx(8 / 8.0 * 16000, abs=2)
    assert FixationSet(root / "fixations", "DIEM").folds() == [None]


def test_fixmap_keeps_matlab_orientation(tmp_path):
    # a point at MATLAB (row 2, col 5), 1-based, is numpy [1, 4]
    m = np.zeros((4, 6))
    m[1, 4] = 1
    p = tmp_path / "fixMap_00001.mat"
    p.write_bytes(mat_bytes({"eyeMap": m}))
    fix = read_fixmap(p, shape=(4, 6))
    assert list(zip(*np.nonzero(fix))) == [(1, 4)]


def test_corrupt_and_wrong_mat(tmp_path):
    p = tmp_path / "fixMap_00001.mat"
    p.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(FixationDataError, match="fixMap_00001.mat: not a readable MATLAB file"):
        read_fixmap(p)
    p.write_bytes(mat_bytes({"fixations": np.zeros((4, 6))}))
    with pytest.raises(FixationDataError, match="expected variable 'eyeMap'"):
        read_fixmap(p)
    p.write_bytes(mat_bytes({"eyeMap": np.zeros((4, 6))}))
    with pytest.raises(FixationDataError, match=r"is \(4, 6\), expected the frame size \(5, 6\)"):
        read_fixmap(p, shape=(5, 6))


def test_missing_frame_is_named(tiny_world_copy):
    _, root = tiny_world_copy
    fs = FixationSet(root / "fixations", "AVAD")
    v = fs.video(fs.all_entries()[0].video)
    v.frame_path(3).unlink()
    with pytest.raises(FixationDataError, match=r"img_00004.jpg: missing frame"):
        v.check()


def test_saliency_stack_reads_one_map_at_a_time_and_names_a_bad_one(tiny_world_copy):
    import cv2

    from avsal.data.fixations import SaliencyStack

    _, root = tiny_world_copy
    fs = FixationSet(root / "fixations", "AVAD")
    v = fs.video(fs.all_entries()[0].video)
    n, shape = v.check()
    stack = SaliencyStack(v, n, shape)
    assert stack.shape == (n, *shape) and len(stack) == n
    np.testing.assert_array_equal(stack[n - 1], v.saliency_map(n - 1))
    with pytest.raises(IndexError):
        stack[n]
    cv2.imwrite(str(v.map_path(2)), np.zeros((10, 10), np.uint8))
    with pytest.raises(FixationDataError, match=r"eyeMap_00003.jpg: map is \(10, 10\), frames are"):
        stack[2]
