"""Audio taggers and audio-switch labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avsal.models import (
    NO_MATCH,
    AudioTagger,
    PredictionsFileTagger,
    switch_labels,
)

CLASSES = ["Bark", "Church bell", "Male speech, man speaking", "Frying (food)"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vggsound_top1.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_predictions_file_parsing(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "video_id,second,label\n"
        "vid-A_1,0,bark\n"
        "vid-A_1,1, Church Bell \n"
        "\n"
        'vid-A_1,2,"male speech, man speaking"\n'
        "vid-A_1,3,Male speech, man speaking\n"
        "vid-B,0,dog barking\n"
        "vid-B,1,playing theremin\n",
    )
    tagger = PredictionsFileTagger(
        path=path, class_names=CLASSES, label_map={"Dog barking": "Bark"}
    )
    assert isinstance(tagger, AudioTagger)
    got = tagger.predict_top1(["vid-A_1"] * 4 + ["vid-B", "vid-B"], [0, 1, 2, 3, 0, 1])
    assert got.dtype == np.int64
    assert got.tolist() == [0, 1, 2, 2, 0, NO_MATCH]
    with pytest.raises(KeyError, match=r"vggsound_top1\.csv.*'vid-C' second 0"):
        tagger.predict_top1(["vid-C"], [0])
    with pytest.raises(ValueError, match="2 clip ids but 1 seconds"):
        tagger.predict_top1(["a", "b"], [0])


@pytest.mark.parametrize(
    ("bad_line", "why"),
    [
        ("vid-B,3", "2 field"),
        ("vid-B,three,Bark", "second 'three' is not an integer"),
        ("vid-B,1.5,Bark", "second '1.5' is not an integer"),
        ("vid-B,-1,Bark", "negative second"),
        (",4,Bark", "empty video_id"),
        ("vid-B,4,  ", "empty label"),
        ("vid-A,0,Church bell", r"duplicate row for \(vid-A, 0\), first at line 2"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad_line: str, why: str) -> None:
    path = _write(tmp_path, f"video_id,second,label\nvid-A,0,Bark\n\n{bad_line}\n")
    with pytest.raises(ValueError, match=rf"vggsound_top1\.csv, line 4: {why}"):
        PredictionsFileTagger(path=path, class_names=CLASSES)


def test_missing_predictions_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        PredictionsFileTagger(path=tmp_path / "nothing.csv", class_names=CLASSES)


def test_switch_labels() -> None:
    assert switch_labels(3, 3) == 1 and switch_labels(3, 2) == 0 and switch_labels(0, NO_MATCH) == 0
    assert switch_labels(np.array([0, 1, 2]), np.array([0, 2, NO_MATCH])).tolist() == [1, 0, 0]
    t = switch_labels(torch.tensor([1, 1]), torch.tensor([1, 0]))
    assert t.dtype == torch.int64 and t.tolist() == [1, 0]
    with pytest.raises(ValueError, match=">= 0"):
        switch_labels(np.array([-1]), np.array([-1]))
