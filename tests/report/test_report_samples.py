"""Picking qualitative frames from map stores on a tiny generated fixation layout."""

from __future__ import annotations

import numpy as np

from avsal.data.fixations import FixationSet
from avsal.report.figures import qualitative_figure
from avsal.report.samples import collect_samples

SETS = ["AVAD", "DIEM", "Coutrot2"]


def _store(folder, set_root, set_name, channels: int | None):
    """Every frame of every video; row k holds the value k (channel c: k + c / 10)."""
    from avsal.data.datasets import MapStore

    fs = FixationSet(set_root, set_name)
    refs = [(e.video, i) for e in fs.all_entries() for i in range(e.n_frames)]
    h, w = 12, 16
    base = np.arange(len(refs), dtype=np.float32)[:, None, None]
    if channels is None:
        maps = np.broadcast_to(base, (len(refs), h, w)).astype(np.float16)
    else:
        maps = (
            (base[:, None] + np.arange(channels, dtype=np.float32)[None, :, None, None] / 10)
            .repeat(h, 2)
            .repeat(w, 3)
            .astype(np.float16)
        )
    MapStore(maps, refs).save(folder)
    return refs


def _videos(root):
    return lambda s: [
        e.video for e in FixationSet(root, s).fold_entries("test", None if s == "DIEM" else 1)
    ]


def test_collect_samples_reads_the_right_rows(tiny_world, tmp_path) -> None:
    _, data = tiny_world
    root = data / "fixations"
    pred_refs = _store(tmp_path / "pred" / "AVAD", root, "AVAD", None)
    mm_refs = _store(tmp_path / "mm" / "AVAD", root, "AVAD", 8)
    _store(tmp_path / "mm" / "Coutrot2", root, "Coutrot2", 8)  # method maps only
    samples, notes = collect_samples(
        fixation_root=root,
        predictions=tmp_path / "pred",
        method_maps=tmp_path / "mm",
        sets=SETS,
        videos_of=_videos(root),
        pseudo_channel=7,
        per_set=2,
    )
    avad = [s for s in samples if s.label.startswith("AVAD")]
    test_videos = _videos(root)("AVAD")
    assert [s.label.split()[1] for s in avad] == test_videos[:2]
    for s in avad:
        video, i = s.label.split()[1], int(s.label.split("#")[1])
        vid = FixationSet(root, "AVAD").video(video)
        assert i == vid.n_frames() // 2
        np.testing.assert_array_equal(s.frame, vid.frame(i))
        np.testing.assert_array_equal(s.fixations, vid.fixations(i))
        np.testing.assert_allclose(s.gt, vid.saliency_map(i))
        assert s.pred is not None and float(s.pred[0, 0]) == pred_refs.index((video, i))
        assert s.pseudo is not None and float(s.pseudo[0, 0]) == np.float16(
            mm_refs.index((video, i)) + 0.7
        )
    cout = [s for s in samples if s.label.startswith("Coutrot2")]
    assert cout and all(s.pred is None and s.pseudo is not None for s in cout)
    assert any("DIEM: no STA predictions or method maps" in n for n in notes)
    assert any("Coutrot2: STA predictions missing" in n for n in notes)
    png = qualitative_figure(samples)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_collect_samples_caps_the_number_of_sets(tiny_world, tmp_path) -> None:
    _, data = tiny_world
    root = data / "fixations"
    for s in SETS:
        _store(tmp_path / "pred" / s, root, s, None)
    samples, notes = collect_samples(
        fixation_root=root,
        predictions=tmp_path / "pred",
        method_maps=tmp_path / "none",
        sets=SETS,
        videos_of=_videos(root),
        pseudo_channel=7,
        max_sets=2,
        per_set=1,
    )
    assert [s.label.split()[0] for s in samples] == ["AVAD", "DIEM"]
    assert all(s.pseudo is None for s in samples)


def test_stage_draws_the_qualitative_figure_from_stores(tiny_world, tmp_path, paper_dir) -> None:
    from report_inputs import make_cfg, write_inputs

    from avsal.config import load_config
    from avsal.stages.report import run

    _, data = tiny_world
    root = data / "fixations"
    cfg = make_cfg(tmp_path)
    cfg = load_config(
        cfg.params_file,
        overrides={
            "paths.reports": cfg.paths.reports,
            "paths.artifacts": cfg.paths.artifacts,
            "paths.data": cfg.paths.data,
            "paths.fixation_root": str(root),
        },
    )
    write_inputs(tmp_path / "reports", train=False)
    art = tmp_path / "artifacts"
    _store(art / "predictions" / "sta" / "AVAD", root, "AVAD", None)
    _store(art / "method_maps" / "AVAD", root, "AVAD", 8)
    out = run(cfg, paper_dir=paper_dir, track=False)
    fig = tmp_path / "reports" / "figures" / "qualitative.png"
    assert str(fig) in out["figures"] and fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "reports" / "report.md").read_text()
    assert "![qualitative examples](figures/qualitative.png)" in md
    assert "DIEM: no STA predictions or method maps" in md  # the skipped sets are named
