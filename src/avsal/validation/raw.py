"""Suites for the raw data: AVE metadata, decoded-clip records, and the fixation sets.

Records are gathered with the project's own readers (so a reader error is itself a finding,
reported with its file), then checked by great-expectations suites defined here in code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avsal.data.ave import AVE_CATEGORIES, AnnotationError, AVEDataset
from avsal.data.fixations import FixationDataError, FixationSet, fold_list_path, read_fold_list
from avsal.data.video import probe
from avsal.utils.io import atomic_write_json
from avsal.validation.gx import Check, SuiteResult, run_suite

__all__ = [
    "RawValidationResult",
    "ave_records",
    "clip_records",
    "fixation_records",
    "validate_raw",
    "write_report",
]


@dataclass
class RawValidationResult:
    success: bool
    suites: list[SuiteResult]
    errors: list[str]  # reader errors (unreadable files), each naming the file

    def describe(self) -> list[str]:
        lines = [f"[reader] {e}" for e in self.errors]
        for s in self.suites:
            lines.extend(s.describe())
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "errors": self.errors,
            "suites": [s.to_dict() for s in self.suites],
            "summary": self.describe(),
        }


def ave_records(ds: AVEDataset) -> pd.DataFrame:
    """One row per annotated event, with its split and source line."""
    split_of: dict[str, str] = {}
    for split in ("train", "val", "test"):
        for rec in ds.split(split):
            split_of[rec.video_id] = split
    rows = []
    for rec in ds.records.values():
        for seg in rec.segments:
            rows.append(
                {
                    "video_id": rec.video_id,
                    "category": seg.category,
                    "start": seg.start,
                    "end": seg.end,
                    "duration": seg.end - seg.start,
                    "split": split_of.get(rec.video_id, "none"),
                    "where": f"{ds.root / 'Annotations.txt'}:{seg.line} ({rec.video_id})",
                }
            )
    return pd.DataFrame(rows)


def clip_records(ds: AVEDataset, errors: list[str]) -> pd.DataFrame:
    """One row per annotated video: what its mp4 really holds (probed, not decoded)."""
    rows = []
    for rec in ds.records.values():
        path = ds.video_path(rec.video_id)
        row: dict[str, Any] = {
            "video_id": rec.video_id,
            "where": str(path),
            "exists": path.is_file(),
            "readable": False,
        }
        row.update(
            duration=np.nan,
            fps=np.nan,
            has_audio=False,
            audio_seconds=0.0,
            event_end=float(rec.event_span[1]),
        )
        if row["exists"]:
            try:
                info = probe(path)
                row.update(
                    readable=True,
                    duration=info.duration,
                    fps=info.native_fps,
                    has_audio=info.has_audio,
                    audio_seconds=info.audio_duration,
                )
            except Exception as exc:
                errors.append(str(exc))
        rows.append(row)
    df = pd.DataFrame(rows)
    # an event must end inside the clip (whole seconds; allow the last partial second)
    df["event_inside"] = ~(df["event_end"] > df["duration"].fillna(np.inf).round() + 0.5)
    return df


def fixation_records(
    root: Path, set_names: Sequence[str], errors: list[str], *, lists_only: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(fold-list rows, per-video rows, per-frame rows) for the given sets."""
    list_rows, video_rows, frame_rows = [], [], []
    for name in set_names:
        fs = FixationSet(root, name)
        try:
            folds = fs.folds()
        except FixationDataError as exc:
            errors.append(str(exc))
            continue
        counts: dict[str, set[int]] = {}
        for fold in folds:
            per_split = {}
            for split in ("train", "test"):
                path = fold_list_path(root, name, split, fold)
                try:
                    entries = read_fold_list(path)
                except FixationDataError as exc:
                    errors.append(str(exc))
                    entries = []
                per_split[split] = {e.video for e in entries}
                for e in entries:
                    counts.setdefault(e.video, set()).add(e.n_frames)
                    list_rows.append(
                        {
                            "set": name,
                            "fold": fold or 0,
                            "split": split,
                            "video": e.video,
                            "n_frames": e.n_frames,
                            "fps": e.fps,
                            "where": f"{path} ({e.video})",
                        }
                    )
            for v in per_split.get("train", set()) & per_split.get("test", set()):
                list_rows.append(
                    {
                        "set": name,
                        "fold": fold or 0,
                        "split": "both",
                        "video": v,
                        "n_frames": 1,
                        "fps": 1.0,
                        "where": f"{fold_list_path(root, name, 'test', fold)} ({v} also in train)",
                    }
                )
        for v, ns in counts.items():
            if len(ns) > 1:
                errors.append(
                    f"{root / 'fold_lists'}: video {v} of {name} listed with different frame counts {sorted(ns)}"
                )
        if lists_only:
            continue
        for entry in fs.all_entries():
            vid = fs.video(entry.video)
            row = {
                "set": name,
                "video": entry.video,
                "listed_frames": entry.n_frames,
                "frames_on_disk": -1,
                "where": str(vid.frame_dir),
            }
            try:
                n, (h, w) = vid.check()
                row["frames_on_disk"] = n
            except (FixationDataError, ValueError) as exc:
                errors.append(str(exc))
                video_rows.append(row)
                continue
            video_rows.append(row)
            for i in range(n):
                where = f"{vid.fixmap_path(i)}"
                try:
                    fix = vid.fixations(i, shape=(h, w))
                    smap = vid.saliency_map(i)
                except (FixationDataError, ValueError) as exc:
                    errors.append(str(exc))
                    continue
                frame_rows.append(
                    {
                        "set": name,
                        "video": entry.video,
                        "frame": i,
                        "n_fixations": int(fix.sum()),
                        "map_min": float(smap.min()),
                        "map_max": float(smap.max()),
                        "map_shape_ok": smap.shape == (h, w),
                        "where": where,
                    }
                )
    return pd.DataFrame(list_rows), pd.DataFrame(video_rows), pd.DataFrame(frame_rows)


def _ave_checks(categories: Sequence[str], min_seconds: float) -> list[Check]:
    return [
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "category", "value_set": list(categories)},
            "category not in the declared AVE categories",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "start", "min_value": 0},
            "StartTime below 0",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "duration", "min_value": 1},
            "event shorter than one second",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "split", "value_set": ["train", "val", "test"]},
            "video in no official split file",
        ),
        Check("ExpectColumnValuesToNotBeNull", {"column": "video_id"}, "empty VideoID"),
    ]


def _clip_checks(
    min_seconds: float, min_audio: float, min_fps: float, max_fps: float
) -> list[Check]:
    return [
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "exists", "value_set": [True]},
            "video file missing",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "readable", "value_set": [True]},
            "video file unreadable (corrupt or truncated)",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "has_audio", "value_set": [True]},
            "no audio track",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "duration", "min_value": min_seconds},
            f"clip shorter than {min_seconds}s",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "fps", "min_value": min_fps, "max_value": max_fps},
            f"frame rate outside [{min_fps}, {max_fps}]",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "audio_seconds", "min_value": min_audio},
            f"audio shorter than {min_audio}s",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "event_inside", "value_set": [True]},
            "annotated event ends after the clip",
        ),
    ]


def _list_checks() -> list[Check]:
    return [
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "n_frames", "min_value": 1},
            "fold list frame count below 1",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "fps", "min_value": 1, "max_value": 120},
            "fold list fps outside [1, 120]",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "split", "value_set": ["train", "test"]},
            "video in both train and test of one fold",
        ),
    ]


def _video_checks() -> list[Check]:
    return [
        Check(
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "listed_frames", "column_B": "frames_on_disk"},
            "frames on disk differ from the fold list",
        ),
    ]


def _frame_checks(min_fix: int, mostly: float) -> list[Check]:
    return [
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "n_fixations", "min_value": min_fix, "mostly": mostly},
            f"too many frames with fewer than {min_fix} fixation(s)",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "map_min", "min_value": 0.0, "max_value": 1.0},
            "map value out of [0, 1]",
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "map_max", "min_value": 1e-6, "max_value": 1.0},
            "empty (all-zero) fixation map",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "map_shape_ok", "value_set": [True]},
            "map size differs from frame size",
        ),
    ]


def validate_raw(
    *,
    ave_root: str | Path | None,
    fixation_root: str | Path | None,
    categories: Sequence[str] = AVE_CATEGORIES,
    fixation_sets: Sequence[str] = (),
    lists_only: bool = False,
    min_clip_seconds: float = 1.0,
    min_audio_seconds: float = 1.0,
    min_fps: float = 4.0,
    max_fps: float = 61.0,
    min_fixations_per_frame: int = 1,
    min_frames_with_fixations: float = 0.9,
) -> RawValidationResult:
    """Run every raw-data suite; nothing is raised for bad data, everything is reported."""
    errors: list[str] = []
    suites: list[SuiteResult] = []
    if ave_root is not None:
        try:
            ds = AVEDataset(ave_root, categories=categories)
            suites.append(
                run_suite(
                    "ave_metadata", ave_records(ds), _ave_checks(categories, min_clip_seconds)
                )
            )
            suites.append(
                run_suite(
                    "ave_clips",
                    clip_records(ds, errors),
                    _clip_checks(min_clip_seconds, min_audio_seconds, min_fps, max_fps),
                )
            )
            if ds.report.zero_length:
                # reported, not failed: the real release has exactly such a row
                suites[-1].checks.append(
                    {
                        "note": f"{len(ds.report.zero_length)} zero-length row(s) skipped",
                        "lines": [n for n, _ in ds.report.zero_length],
                    }
                )
        except (AnnotationError, FileNotFoundError, ValueError) as exc:
            errors.append(str(exc))
    if fixation_root is not None and fixation_sets:
        lists, videos, frames = fixation_records(
            Path(fixation_root), fixation_sets, errors, lists_only=lists_only
        )
        suites.append(run_suite("fixation_lists", lists, _list_checks()))
        if not lists_only:
            suites.append(run_suite("fixation_videos", videos, _video_checks()))
            suites.append(
                run_suite(
                    "fixation_frames",
                    frames,
                    _frame_checks(min_fixations_per_frame, min_frames_with_fixations),
                )
            )
    ok = not errors and all(s.success for s in suites)
    return RawValidationResult(success=ok, suites=suites, errors=errors)


def write_report(result: RawValidationResult, path: str | Path) -> None:
    """Atomically write the JSON report."""
    atomic_write_json(path, result.to_dict())
