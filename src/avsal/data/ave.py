"""The AVE dataset (Tian et al., ECCV 2018) in its release layout.

``AVE_Dataset/{Annotations.txt, trainSet.txt, valSet.txt, testSet.txt, AVE/<VideoID>.mp4}``;
rows ``Category&VideoID&Quality&StartTime&EndTime`` after a header line.  Real quirks handled
here: a video with two rows is ONE multi-label record; a zero-length row is reported and
skipped; an unknown category is an error; times are whole seconds, start included, end excluded.
Labels are indices into an explicitly declared category list, never a directory listing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from avsal.errors import AvsalError

__all__ = [
    "AVE_CATEGORIES",
    "AnnotationError",
    "Segment",
    "AVERecord",
    "ParseReport",
    "parse_annotations",
    "AVEDataset",
]

log = logging.getLogger(__name__)

HEADER = "Category&VideoID&Quality&StartTime&EndTime"

#: The 28 AVE categories, in the order of the AVE release (its ``categories`` list).
AVE_CATEGORIES: tuple[str, ...] = (
    "Church bell",
    "Male speech, man speaking",
    "Bark",
    "Fixed-wing aircraft, airplane",
    "Race car, auto racing",
    "Female speech, woman speaking",
    "Helicopter",
    "Violin, fiddle",
    "Flute",
    "Ukulele",
    "Frying (food)",
    "Truck",
    "Shofar",
    "Motorcycle",
    "Acoustic guitar",
    "Train horn",
    "Clock",
    "Banjo",
    "Goat",
    "Baby cry, infant cry",
    "Bus",
    "Chainsaw",
    "Cat",
    "Horse",
    "Toilet flush",
    "Rodents, rats, mice",
    "Accordion",
    "Mandolin",
)


class AnnotationError(AvsalError, ValueError):
    """A malformed annotation file; the message names the file and line."""


@dataclass(frozen=True)
class Segment:
    """One annotated audio-visual event: ``[start, end)`` in whole seconds."""

    category: str
    start: int
    end: int
    quality: str = "good"
    line: int = 0  # line in the annotation file, for messages

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class AVERecord:
    """One video; a multi-label record when the release lists it on several rows."""

    video_id: str
    segments: tuple[Segment, ...]

    @property
    def categories(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for s in self.segments:
            seen.setdefault(s.category)
        return tuple(seen)

    @property
    def is_multilabel(self) -> bool:
        return len(self.categories) > 1

    def categories_at(self, t: float) -> tuple[str, ...]:
        """Categories whose event covers time ``t`` (seconds)."""
        return tuple(dict.fromkeys(s.category for s in self.segments if s.covers(t)))

    @property
    def event_span(self) -> tuple[int, int]:
        return min(s.start for s in self.segments), max(s.end for s in self.segments)


@dataclass
class ParseReport:
    """What the parser skipped, so that a validation step can list it."""

    zero_length: list[tuple[int, str]] = field(default_factory=list)  # (line number, raw line)


def parse_annotations(
    path: str | Path,
    *,
    categories: Sequence[str] = AVE_CATEGORIES,
    report: ParseReport | None = None,
) -> dict[str, AVERecord]:
    """Parse an AVE annotation file into ``{video_id: AVERecord}`` (file order preserved).

    Raises AnnotationError naming ``path:line`` for a missing header, a wrong field count,
    non-integer or inverted times, or a category not in ``categories``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: AVE annotation file not found")
    known = set(categories)
    report = report if report is not None else ParseReport()
    rows: dict[str, list[Segment]] = {}
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    if not lines or lines[0].strip() != HEADER:
        first = lines[0].strip() if lines else "<empty file>"
        raise AnnotationError(f"{path}:1: expected header line '{HEADER}', got '{first}'")
    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line:
            continue
        parts = line.split("&")
        if len(parts) != 5:
            raise AnnotationError(
                f"{path}:{lineno}: expected 5 '&'-separated fields "
                f"(Category&VideoID&Quality&StartTime&EndTime), got {len(parts)}: '{line}'"
            )
        category, video_id, quality, start_s, end_s = (p.strip() for p in parts)
        if category not in known:
            raise AnnotationError(
                f"{path}:{lineno}: unknown category '{category}' (known: {len(known)} AVE categories)"
            )
        if not video_id:
            raise AnnotationError(f"{path}:{lineno}: empty VideoID")
        try:
            start, end = int(start_s), int(end_s)
        except ValueError:
            raise AnnotationError(
                f"{path}:{lineno}: StartTime/EndTime must be whole seconds, got '{start_s}', '{end_s}'"
            ) from None
        if start < 0 or end < start:
            raise AnnotationError(
                f"{path}:{lineno}: need 0 <= StartTime <= EndTime, got {start}, {end}"
            )
        if end == start:
            log.warning("%s:%d: zero-length event skipped: %s", path, lineno, line)
            report.zero_length.append((lineno, line))
            continue
        rows.setdefault(video_id, []).append(Segment(category, start, end, quality, lineno))
    return {vid: AVERecord(vid, tuple(segs)) for vid, segs in rows.items()}


class AVEDataset:
    """An ``AVE_Dataset`` folder: annotations, official splits and clip paths."""

    SPLIT_FILES = {"train": "trainSet.txt", "val": "valSet.txt", "test": "testSet.txt"}

    def __init__(self, root: str | Path, *, categories: Sequence[str] = AVE_CATEGORIES) -> None:
        self.root = Path(root)
        self.categories = tuple(categories)
        unknown = sorted(set(self.categories) - set(AVE_CATEGORIES))
        if unknown:
            raise ValueError(f"categories not in AVE: {unknown}")
        self.report = ParseReport()
        self.records = parse_annotations(
            self.root / "Annotations.txt", categories=self.categories, report=self.report
        )

    def label(self, category: str) -> int:
        """Class index of ``category`` in the declared category order."""
        return self.categories.index(category)

    def split(self, name: str) -> list[AVERecord]:
        """Records of the official split ``name`` (train/val/test), in file order."""
        if name not in self.SPLIT_FILES:
            raise ValueError(f"unknown split '{name}', expected one of {list(self.SPLIT_FILES)}")
        ids = parse_annotations(self.root / self.SPLIT_FILES[name], categories=self.categories)
        missing = [v for v in ids if v not in self.records]
        if missing:
            raise AnnotationError(
                f"{self.root / self.SPLIT_FILES[name]}: {len(missing)} video(s) not in Annotations.txt, e.g. {missing[0]}"
            )
        return [self.records[v] for v in ids]

    def video_path(self, video_id: str) -> Path:
        return self.root / "AVE" / f"{video_id}.mp4"
