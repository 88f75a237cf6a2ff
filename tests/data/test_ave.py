"""AVE annotation parser and clip decoding, on the real samples in references/samples."""

from pathlib import Path

import numpy as np
import pytest

from avsal.data.ave import (
    AVE_CATEGORIES,
    AnnotationError,
    AVEDataset,
    ParseReport,
    parse_annotations,
)
from avsal.data.video import DecodeError, MissingAudioError, decode_clip, probe


def test_real_annotations_quirks(real_samples):
    report = ParseReport()
    recs = parse_annotations(real_samples / "ave_meta" / "Annotations.txt", report=report)
    rows = sum(len(r.segments) for r in recs.values())
    assert rows == 4143 - 1  # 4,143 rows, the zero-length one skipped
    assert [line for _, line in report.zero_length] == ["Church bell&VWi2ENBuTbw&good&0&0"]
    assert "VWi2ENBuTbw" not in recs
    multi = [r for r in recs.values() if len(r.segments) >= 2]  # one of them has three rows
    assert len(multi) == 45
    assert recs["-1qyr-IzqKY"].categories == ("Ukulele", "Accordion")
    assert recs["-1qyr-IzqKY"].is_multilabel
    assert {c for r in recs.values() for c in r.categories} == set(AVE_CATEGORIES)
    assert len(AVE_CATEGORIES) == 28


def test_real_splits(real_samples):
    counts = {}
    for split in ("trainSet", "valSet", "testSet"):
        recs = parse_annotations(real_samples / "ave_meta" / f"{split}.txt")
        counts[split] = sum(len(r.segments) for r in recs.values())
    # 3,339 / 402 / 402 rows; the zero-length row sits in one split and is skipped there
    assert counts["valSet"] == 402 and counts["testSet"] == 402
    assert counts["trainSet"] in (3338, 3339)


def test_start_included_end_excluded(tmp_path):
    p = tmp_path / "Annotations.txt"
    p.write_text("Category&VideoID&Quality&StartTime&EndTime\nBark&abc&good&2&5\n")
    rec = parse_annotations(p)["abc"]
    assert rec.categories_at(2.0) == ("Bark",)
    assert rec.categories_at(4.99) == ("Bark",)
    assert rec.categories_at(5.0) == ()
    assert rec.categories_at(1.99) == ()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Bark&abc&good&2", r"Annotations.txt:3: expected 5 '&'-separated fields"),
        ("Dog&abc&good&2&5", r"Annotations.txt:3: unknown category 'Dog'"),
        ("Bark&abc&good&two&5", r"Annotations.txt:3: StartTime/EndTime must be whole seconds"),
        ("Bark&abc&good&6&5", r"Annotations.txt:3: need 0 <= StartTime <= EndTime"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    p = tmp_path / "Annotations.txt"
    p.write_text(f"Category&VideoID&Quality&StartTime&EndTime\nBark&ok&good&0&10\n{line}\n")
    with pytest.raises(AnnotationError, match=message):
        parse_annotations(p)


def test_missing_header(tmp_path):
    p = tmp_path / "Annotations.txt"
    p.write_text("Bark&ok&good&0&10\n")
    with pytest.raises(AnnotationError, match="Annotations.txt:1: expected header line"):
        parse_annotations(p)


def test_category_subset_labels_follow_declared_order(tmp_path):
    root = tmp_path / "AVE_Dataset"
    root.mkdir()
    hdr = "Category&VideoID&Quality&StartTime&EndTime\n"
    (root / "Annotations.txt").write_text(hdr + "Goat&a&good&0&2\nBark&b&good&0&2\n")
    for s in ("trainSet", "valSet", "testSet"):
        (root / f"{s}.txt").write_text(hdr + ("Goat&a&good&0&2\n" if s == "trainSet" else ""))
    ds = AVEDataset(root, categories=("Goat", "Bark"))
    assert ds.label("Goat") == 0 and ds.label("Bark") == 1
    assert [r.video_id for r in ds.split("train")] == ["a"]
    with pytest.raises(AnnotationError, match="unknown category 'Bark'"):
        AVEDataset(root, categories=("Goat",))


CLIPS = {
    "0lFf-HP86Q0": (320, 240, 17.58),
    "16eUxQwxxbs": (640, 360, 29.92),
    "22olCB3wQaA": (1280, 720, 25.0),
}


@pytest.mark.parametrize("vid", sorted(CLIPS))
def test_decode_real_clip_at_8fps_16k(real_samples, vid):
    path = real_samples / "ave_clips" / f"{vid}.mp4"
    info = probe(path)
    w, h, fps = CLIPS[vid]
    assert (info.width, info.height) == (w, h)
    assert info.native_fps == pytest.approx(fps, abs=0.05)
    clip = decode_clip(path, fps=8, size=(64, 80), audio_rate=16000)
    assert clip.frames.shape == (int(np.floor(info.duration * 8)), 64, 80, 3) == (80, 64, 80, 3)
    assert clip.frames.dtype == np.uint8
    assert clip.audio.shape == (round(info.duration * 16000),)
    assert abs(clip.audio.shape[0] / 16000 - 10.0) < 0.1
    assert np.abs(clip.audio).max() > 0.05  # real sound, not silence
    # frames change over time (a real decode, not one frame repeated)
    assert np.abs(clip.frames[0].astype(int) - clip.frames[-1].astype(int)).mean() > 1


def test_truncated_mp4_is_a_clear_error(real_samples, tmp_path):
    data = (real_samples / "ave_clips" / "0lFf-HP86Q0.mp4").read_bytes()
    bad = tmp_path / "trunc.mp4"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(DecodeError, match="trunc.mp4"):
        decode_clip(bad, fps=8)


def test_mp4_without_audio(tmp_path):
    from avsal.data.synth_files import write_mp4

    frames = np.zeros((8, 32, 32, 3), np.uint8)
    path = tmp_path / "silent.mp4"
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=8)
        vs.width = vs.height = 32
        vs.pix_fmt = "yuv420p"
        for f in frames:
            for pkt in vs.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(pkt)
        for pkt in vs.encode():
            out.mux(pkt)
    assert write_mp4  # the writer used by the synthetic world always adds audio
    with pytest.raises(MissingAudioError, match=r"silent.mp4: no audio stream"):
        decode_clip(path, fps=8)


def test_missing_video(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        decode_clip(Path(tmp_path / "nope.mp4"), fps=8)
