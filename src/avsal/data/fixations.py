"""The six audio-visual eye-tracking sets in the STAViS release layout.

::

    video_frames/<SET>/<vid>/img_%05d.jpg           frames, numbered from 1
    video_audio/<SET>/<vid>/<vid>.wav
    annotations/<SET>/<vid>/maps/eyeMap_%05d.jpg    continuous fixation density (8-bit)
    annotations/<SET>/<vid>/fixMap_%05d.mat         variable ``eyeMap``: binary fixation points
    fold_lists/<SET>_list_{train,test}_<k>_fps.txt  ``<vid> <n_frames> <fps>`` per line
                                                    (DIEM: ``DIEM_list_{train,test}_fps.txt``)

Frame numbers in file names are 1-based (MATLAB heritage); every array this module returns is
0-based: frame ``i`` of a video is ``img_{i+1:05d}.jpg``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import scipy.io

from avsal.config import FIXATION_SETS
from avsal.errors import AvsalError

__all__ = [
    "FixationDataError",
    "FoldEntry",
    "read_fold_list",
    "fold_list_path",
    "FixationVideo",
    "FixationSet",
    "SaliencyStack",
    "read_image",
    "read_fixmap",
]


class FixationDataError(AvsalError, ValueError):
    """A fixation-set file that is missing, malformed or inconsistent; names the file."""


@dataclass(frozen=True)
class FoldEntry:
    video: str
    n_frames: int
    fps: float


def fold_list_path(root: Path, set_name: str, split: str, fold: int | None) -> Path:
    """Path of a fold list; ``fold=None`` for single-split sets such as DIEM."""
    prefix = FIXATION_SETS.get(set_name, set_name)
    suffix = f"_{fold}" if fold is not None else ""
    return Path(root) / "fold_lists" / f"{prefix}_list_{split}{suffix}_fps.txt"


def read_fold_list(path: str | Path) -> list[FoldEntry]:
    """Parse ``<vid> <n_frames> <fps>`` lines (a missing final newline is fine)."""
    path = Path(path)
    if not path.is_file():
        raise FixationDataError(f"{path}: fold list not found")
    entries = []
    for lineno, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3:
            raise FixationDataError(
                f"{path}:{lineno}: expected '<video> <n_frames> <fps>', got '{line}'"
            )
        try:
            n, fps = int(parts[1]), float(parts[2])
        except ValueError:
            raise FixationDataError(
                f"{path}:{lineno}: n_frames must be an integer and fps a number: '{line}'"
            ) from None
        if n <= 0 or fps <= 0:
            raise FixationDataError(f"{path}:{lineno}: n_frames and fps must be positive: '{line}'")
        entries.append(FoldEntry(parts[0], n, fps))
    return entries


def read_image(path: Path, *, grayscale: bool = False) -> np.ndarray:
    """Read a jpg as RGB uint8 [H, W, 3] (or [H, W] when ``grayscale``)."""
    if not path.is_file():
        raise FixationDataError(f"{path}: missing file")
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR)
    if img is None:
        raise FixationDataError(f"{path}: not a readable image")
    return img if grayscale else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_fixmap(path: Path, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Binary fixation points from a ``fixMap_*.mat`` (variable ``eyeMap``) as bool [H, W].

    The matrix is stored in image orientation, so MATLAB's 1-based (row, col) of a point maps
    to numpy index (row - 1, col - 1); reading the array directly keeps that right.
    """
    if not path.is_file():
        raise FixationDataError(f"{path}: missing file")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as exc:
        raise FixationDataError(f"{path}: not a readable MATLAB file: {exc}") from exc
    if "eyeMap" not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise FixationDataError(f"{path}: expected variable 'eyeMap', found {keys}")
    arr = np.asarray(mat["eyeMap"])
    if arr.ndim != 2:
        raise FixationDataError(f"{path}: 'eyeMap' must be a 2-D binary map, got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise FixationDataError(
            f"{path}: 'eyeMap' is {arr.shape}, expected the frame size {tuple(shape)}"
        )
    if not np.isfinite(arr).all():
        raise FixationDataError(f"{path}: 'eyeMap' contains NaN or Inf")
    return arr > 0


_FRAME_RE = re.compile(r"img_(\d{5})\.jpg$")


@dataclass(frozen=True)
class FixationVideo:
    """One video of a fixation set; ``i`` is always a 0-based frame index."""

    root: Path
    set_name: str
    name: str

    @property
    def folder(self) -> str:
        return FIXATION_SETS.get(self.set_name, self.set_name)

    @property
    def frame_dir(self) -> Path:
        return self.root / "video_frames" / self.folder / self.name

    @property
    def annotation_dir(self) -> Path:
        return self.root / "annotations" / self.folder / self.name

    @property
    def wav_path(self) -> Path:
        return self.root / "video_audio" / self.folder / self.name / f"{self.name}.wav"

    def frame_path(self, i: int) -> Path:
        return self.frame_dir / f"img_{i + 1:05d}.jpg"

    def map_path(self, i: int) -> Path:
        return self.annotation_dir / "maps" / f"eyeMap_{i + 1:05d}.jpg"

    def fixmap_path(self, i: int) -> Path:
        return self.annotation_dir / f"fixMap_{i + 1:05d}.mat"

    def n_frames(self) -> int:
        """Number of frames on disk (the largest contiguous run from img_00001)."""
        if not self.frame_dir.is_dir():
            raise FixationDataError(f"{self.frame_dir}: frame folder not found")
        numbers = sorted(
            int(m.group(1)) for p in self.frame_dir.iterdir() if (m := _FRAME_RE.match(p.name))
        )
        if not numbers:
            raise FixationDataError(f"{self.frame_dir}: no img_%05d.jpg frames")
        for expected, got in enumerate(numbers, start=1):
            if got != expected:
                raise FixationDataError(
                    f"{self.frame_dir / f'img_{expected:05d}.jpg'}: missing frame (found up to {numbers[-1]})"
                )
        return numbers[-1]

    def frame(self, i: int) -> np.ndarray:
        """RGB uint8 [H, W, 3]."""
        return read_image(self.frame_path(i))

    def saliency_map(self, i: int) -> np.ndarray:
        """Continuous fixation density, float32 [H, W] in [0, 1]."""
        return read_image(self.map_path(i), grayscale=True).astype(np.float32) / 255.0

    def fixations(self, i: int, *, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Binary fixation points, bool [H, W]."""
        return read_fixmap(self.fixmap_path(i), shape=shape)

    def audio(self, *, rate: int = 16000) -> np.ndarray:
        """Mono float32 audio resampled to ``rate``."""
        from avsal.data.audio import read_wav

        return read_wav(self.wav_path, rate=rate)

    def check(self, *, expected_frames: int | None = None) -> tuple[int, tuple[int, int]]:
        """Consistency: frame count vs. the fold list, every map/fixMap present and frame-sized.

        Returns (n_frames, (H, W)); raises FixationDataError naming the first bad file.
        """
        n = self.n_frames()
        if expected_frames is not None and n != expected_frames:
            raise FixationDataError(
                f"{self.frame_dir}: {n} frames on disk, fold list says {expected_frames}"
            )
        if not self.wav_path.is_file():
            raise FixationDataError(f"{self.wav_path}: missing audio file")
        h, w = self.frame(0).shape[:2]
        for i in range(n):
            if not self.map_path(i).is_file():
                raise FixationDataError(f"{self.map_path(i)}: missing map")
            if not self.fixmap_path(i).is_file():
                raise FixationDataError(f"{self.fixmap_path(i)}: missing file")
        smap = self.saliency_map(0)
        if smap.shape != (h, w):
            raise FixationDataError(f"{self.map_path(0)}: map is {smap.shape}, frames are {(h, w)}")
        return n, (h, w)


class SaliencyStack:
    """A video's continuous maps as a lazy float32 ``[T, H, W]`` stack: ``stack[i]`` reads frame
    ``i``'s map from disk, so a scorer holds the frames it is working on, not the video."""

    def __init__(self, video: FixationVideo, n: int, size: tuple[int, int]) -> None:
        self.video, self.shape = video, (n, *size)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < self.shape[0]:
            raise IndexError(f"frame {i} of {self.shape[0]}")
        smap = self.video.saliency_map(i)
        if smap.shape != self.shape[1:]:
            raise FixationDataError(
                f"{self.video.map_path(i)}: map is {smap.shape}, frames are {self.shape[1:]}"
            )
        return smap


class FixationSet:
    """One set (AVAD, DIEM, SumMe, ETMD, Coutrot1, Coutrot2) under a STAViS-style root."""

    def __init__(self, root: str | Path, name: str) -> None:
        if name not in FIXATION_SETS:
            raise ValueError(
                f"unknown fixation set '{name}', expected one of {list(FIXATION_SETS)}"
            )
        self.root = Path(root)
        self.name = name

    @property
    def folder(self) -> str:
        return FIXATION_SETS[self.name]

    def folds(self) -> list[int | None]:
        """Fold numbers that have lists on disk; [None] for single-split sets."""
        lists = self.root / "fold_lists"
        found = sorted(
            int(m.group(1))
            for p in lists.glob(f"{self.folder}_list_test_*_fps.txt")
            if (m := re.match(rf"{re.escape(self.folder)}_list_test_(\d+)_fps\.txt$", p.name))
        )
        if found:
            return list(found)
        if fold_list_path(self.root, self.name, "test", None).is_file():
            return [None]
        raise FixationDataError(
            f"{lists}: no fold lists for {self.name} ({self.folder}_list_test_*_fps.txt)"
        )

    def fold_entries(self, split: str, fold: int | None) -> list[FoldEntry]:
        return read_fold_list(fold_list_path(self.root, self.name, split, fold))

    def split_videos(self, split: str, *, fold: int) -> list[str]:
        """Videos of one side of ``fold`` (``test`` = reporting, ``train`` = tuning); DIEM has one split."""
        folds = self.folds()
        k = None if folds == [None] else fold
        if k is not None and k not in folds:
            raise ValueError(f"{self.name}: fold {fold} not in its fold lists {folds}")
        return [e.video for e in self.fold_entries(split, k)]

    def all_entries(self) -> list[FoldEntry]:
        """Every video named by any fold list, once, in first-seen order."""
        seen: dict[str, FoldEntry] = {}
        for fold in self.folds():
            for split in ("train", "test"):
                path = fold_list_path(self.root, self.name, split, fold)
                if path.is_file():
                    for e in read_fold_list(path):
                        seen.setdefault(e.video, e)
        return list(seen.values())

    def videos_on_disk(self) -> list[str]:
        """Video folders present (sorted by name, for sets without lists)."""
        d = self.root / "video_frames" / self.folder
        if not d.is_dir():
            raise FixationDataError(f"{d}: frame folder of set {self.name} not found")
        return sorted(p.name for p in d.iterdir() if p.is_dir())

    def video(self, name: str) -> FixationVideo:
        return FixationVideo(self.root, self.name, name)

    def __iter__(self) -> Iterator[FixationVideo]:
        for e in self.all_entries():
            yield self.video(e.video)
