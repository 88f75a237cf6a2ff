"""Saliency maps that someone else produced, read from the layouts people have.

Two layouts:

* **per-frame files**: ``MAPS_DIR/<SET>/<video>/<anything>_%05d.{png,jpg,jpeg,npy}`` with frame
  numbers as in the STAViS ``video_frames`` folders (1-based). The name pattern (prefix, digits,
  extension) is detected per video from the files present, or given (``--pattern
  'pred_%05d.png'``; ``{video}`` stands for the video's name).
* **the pipeline's own predictions**: ``MAPS_DIR/<SET>/`` is a map store (``maps.npy`` +
  ``refs.json``, e.g. ``artifacts/predictions/sta``).

Maps of any size and dtype are returned as float32 ``[T, h, w]``; the protocol resizes them to
the ground-truth size. Colour images are converted to grey (ITU-R 601 luma, OpenCV's weights).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avsal.errors import AvsalError

__all__ = ["MapsFolder", "MissingMaps", "UnreadableMap", "VideoMaps"]

EXTENSIONS = (".png", ".jpg", ".jpeg", ".npy")
_NUMBERED = re.compile(r"^(?P<prefix>.*?)(?P<digits>\d+)(?P<ext>\.[A-Za-z]+)$")


class MissingMaps(AvsalError, FileNotFoundError):
    """A video lacks maps for some of its annotated frames."""

    def __init__(self, where: str, first: int, count: int, total: int) -> None:
        self.where, self.first, self.count, self.total = where, first, count, total
        super().__init__(
            f"{where}: {count} of {total} frames have no map (first missing: frame {first}, "
            "1-based); pass --allow-missing to score the videos that are complete"
        )


class UnreadableMap(AvsalError, ValueError):
    """A map file that cannot be decoded (names the file and why)."""


@dataclass(frozen=True)
class VideoMaps:
    """One video's maps ``[T, h, w]`` float32 and how many frames hold NaN (dropped later)."""

    maps: np.ndarray
    nan_frames: list[int]  # 0-based frames whose map has a NaN or Inf value


def _read_file(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise UnreadableMap(f"{path}: not a readable .npy file ({exc})") from None
    else:
        arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise UnreadableMap(f"{path}: not a readable {path.suffix} image")
        if arr.ndim == 3:
            arr = cv2.cvtColor(arr[..., :3], cv2.COLOR_BGR2GRAY)
    arr = np.squeeze(np.asarray(arr))
    if arr.ndim != 2 or arr.size == 0:
        raise UnreadableMap(f"{path}: expected one 2-D map, got shape {arr.shape}")
    return arr.astype(np.float32)


def _pattern_regex(pattern: str, video: str) -> re.Pattern[str]:
    """``'pred_%05d.png'`` / ``'{video}_%d.npy'`` -> a regex with a ``digits`` group."""
    text = pattern.replace("{video}", "\0")
    match = re.search(r"%0?(\d*)d", text)
    if match is None:
        raise ValueError(f"--pattern {pattern!r} needs a frame number field such as %05d")
    before, after = text[: match.start()], text[match.end() :]
    width = match.group(1)
    digits = rf"(?P<digits>\d{{{int(width)}}})" if width else r"(?P<digits>\d+)"
    esc = [re.escape(part).replace("\0", re.escape(video)) for part in (before, after)]
    return re.compile(f"^{esc[0]}{digits}{esc[1]}$")


def _numbered_files(folder: Path, video: str, pattern: str | None) -> dict[int, Path]:
    """``{frame number (1-based): file}`` of one video folder."""
    files = [p for p in folder.iterdir() if p.is_file()]
    if pattern is not None:
        rx = _pattern_regex(pattern, video)
        return {int(m["digits"]): p for p in files if (m := rx.match(p.name))}
    found = [
        (m["prefix"], m["ext"].lower(), int(m["digits"]), p)
        for p in files
        if p.suffix.lower() in EXTENSIONS and (m := _NUMBERED.match(p.name))
    ]
    if not found:
        return {}
    # the most common (prefix, extension) is the pattern; other numbered files are ignored
    (prefix, ext), _ = Counter((f[0], f[1]) for f in found).most_common(1)[0]
    return {n: p for pre, e, n, p in found if (pre, e) == (prefix, ext)}


class MapsFolder:
    """``MAPS_DIR``: the sets in it, and each video's maps for its annotated frames."""

    def __init__(self, root: str | Path, *, pattern: str | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: maps folder not found")
        self.pattern = pattern
        self._stores: dict[str, object] = {}

    def sets(self) -> list[str]:
        """Set folders present (sorted)."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def is_store(self, set_name: str) -> bool:
        return (self.root / set_name / "refs.json").is_file()

    def layout(self, set_name: str) -> str:
        """``map store`` or the detected/given per-frame pattern, for the output's record."""
        if self.is_store(set_name):
            return "map store (maps.npy + refs.json)"
        return self.pattern or "<prefix>_<frame>.<png|jpg|npy>, detected per video"

    def complete(
        self, set_name: str, video: str, n_frames: int, *, allow_missing: bool = False
    ) -> bool:
        """Whether frames ``1..n_frames`` all have a map, reading none of them; raises
        ``MissingMaps`` unless complete or ``allow_missing`` (then False)."""
        missing, where = self._missing(set_name, video, n_frames)
        if missing:
            if allow_missing:
                return False
            raise MissingMaps(where, missing[0], len(missing), n_frames)
        return True

    def load(self, set_name: str, video: str, n_frames: int, *, allow_missing: bool = False):
        """``VideoMaps`` for frames ``1..n_frames``; raises ``MissingMaps`` unless complete.

        With ``allow_missing`` a video with gaps returns ``None`` (the caller lists it).
        """
        if not self.complete(set_name, video, n_frames, allow_missing=allow_missing):
            return None
        where = f"{self.root / set_name / video}"
        if self.is_store(set_name):
            store, rows = self._store(set_name)
            frames = rows[video]
            maps = [np.asarray(store.maps[frames[i]], np.float32) for i in range(n_frames)]
        else:
            files = self._files(set_name, video)
            maps = [_read_file(files[i]) for i in range(1, n_frames + 1)]
        bad = [i for i, m in enumerate(maps) if not np.isfinite(m).all()]
        if len({m.shape for m in maps}) != 1:
            raise UnreadableMap(
                f"{where}: maps of different sizes {sorted({m.shape for m in maps})}"
            )
        return VideoMaps(maps=np.stack(maps).astype(np.float32, copy=False), nan_frames=bad)

    def _missing(self, set_name: str, video: str, n: int) -> tuple[list[int], str]:
        """1-based frames without a map, and where they were looked for."""
        if self.is_store(set_name):
            _, rows = self._store(set_name)
            have = rows.get(video, {})
            where = f"{self.root / set_name}:{video}"
            return [i + 1 for i in range(n) if i not in have], where
        files = self._files(set_name, video)
        return [i for i in range(1, n + 1) if i not in files], str(self.root / set_name / video)

    def _files(self, set_name: str, video: str) -> dict[int, Path]:
        folder = self.root / set_name / video
        return _numbered_files(folder, video, self.pattern) if folder.is_dir() else {}

    def _store(self, set_name: str):
        """The set's map store and ``{video: {0-based frame: row}}``, loaded once."""
        from avsal.data.datasets import MapStore

        if set_name not in self._stores:
            store = MapStore.load(self.root / set_name)
            rows: dict[str, dict[int, int]] = {}
            for k, (cid, i) in enumerate(store.refs):
                rows.setdefault(cid, {})[i] = k
            self._stores[set_name] = (store, rows)
        return self._stores[set_name]
