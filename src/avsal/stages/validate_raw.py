"""Stage validate_raw: great-expectations suites over the raw datasets."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from avsal.config import Config
from avsal.errors import ValidationFailed
from avsal.validation.raw import validate_raw, write_report

__all__ = ["ValidationFailed", "run"]


def run(
    cfg: Config,
    *,
    report_path: str | Path | None = None,
    ave_root: str | Path | None = None,
    fixation_root: str | Path | None = None,
    sets: list[str] | None = None,
    lists_only: bool = False,
    raise_on_failure: bool = True,
) -> dict[str, Any]:
    """Validate AVE and the fixation sets; write ``reports/validation_raw.json``."""
    v = cfg.validation
    result = validate_raw(
        ave_root=ave_root or cfg.paths.ave_root,
        fixation_root=fixation_root or cfg.paths.fixation_root,
        categories=cfg.ave.categories,
        fixation_sets=sets if sets is not None else list(cfg.datasets.fixation_sets),
        lists_only=lists_only,
        min_clip_seconds=v.min_clip_seconds,
        min_audio_seconds=v.min_audio_seconds,
        min_fps=v.min_fps,
        max_fps=v.max_fps,
        min_fixations_per_frame=v.min_fixations_per_frame,
        min_frames_with_fixations=v.min_frames_with_fixations,
    )
    path = Path(report_path or Path(cfg.paths.reports) / "validation_raw.json")
    write_report(result, path)
    metrics = {
        "success": result.success,
        "n_failures": len(result.describe()),
        "records": {s.suite: s.n_records for s in result.suites},
        "report": str(path),
    }
    if not result.success and raise_on_failure:
        lines = "\n  ".join(result.describe())
        raise ValidationFailed(f"raw data validation failed ({path}):\n  {lines}")
    print(f"raw data valid: {metrics['records']} -> {path}", file=sys.stderr)
    return metrics
