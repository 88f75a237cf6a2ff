"""Pick and load the frames of the qualitative figure from stage outputs on disk.

Why tolerant: the report runs after whatever stages have finished; a set without STA
predictions or method maps is skipped (or its column drawn as 'not available') with a note, so
a partial run still gets a figure of what exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from avsal.data.fixations import FixationDataError, FixationSet
from avsal.report.figures import QualSample

if TYPE_CHECKING:
    from avsal.data.datasets import MapStore

__all__ = ["collect_samples"]


def _row(store: MapStore | None, video: str, i: int) -> int | None:
    if store is None:
        return None
    for k, ref in enumerate(store.refs):
        if ref == (video, i):
            return k
    return None


def _load(folder: Path) -> MapStore | None:
    if not (folder / "refs.json").is_file():
        return None
    from avsal.data.datasets import MapStore  # imports torch: only when there is a store to read

    return MapStore.load(folder)


def collect_samples(
    *,
    fixation_root: Path,
    predictions: Path,
    method_maps: Path,
    sets: Sequence[str],
    videos_of: Callable[[str], list[str]],
    pseudo_channel: int,
    max_sets: int = 3,
    per_set: int = 2,
) -> tuple[list[QualSample], list[str]]:
    """Up to ``per_set`` frames (middle frame of successive test videos) of up to ``max_sets`` sets.

    ``predictions`` / ``method_maps`` hold one MapStore per set (STA maps [N, H, W]; method maps
    [N, C, H, W] with the pseudo-GT method at ``pseudo_channel``).  Returns the samples and notes
    on what was skipped.
    """
    samples: list[QualSample] = []
    notes: list[str] = []
    used = 0
    for set_name in sets:
        if used >= max_sets:
            break
        try:
            pred = _load(predictions / set_name)
            mmap = _load(method_maps / set_name)
        except (OSError, ValueError) as exc:
            notes.append(f"{set_name}: unreadable map store ({exc})")
            continue
        if pred is None and mmap is None:
            notes.append(f"{set_name}: no STA predictions or method maps")
            continue
        try:
            fs = FixationSet(fixation_root, set_name)
            rows: list[QualSample] = []
            for video in videos_of(set_name)[:per_set]:
                vid = fs.video(video)
                i = vid.n_frames() // 2
                frame = vid.frame(i)
                rp, rm = _row(pred, video, i), _row(mmap, video, i)
                rows.append(
                    QualSample(
                        label=f"{set_name} {video} #{i}",
                        frame=frame,
                        fixations=vid.fixations(i),
                        gt=vid.saliency_map(i),
                        pseudo=None
                        if rm is None
                        else np.asarray(mmap.maps[rm, pseudo_channel], np.float32),  # type: ignore[union-attr]
                        pred=None if rp is None else np.asarray(pred.maps[rp], np.float32),  # type: ignore[union-attr]
                    )
                )
        except (FixationDataError, OSError, ValueError) as exc:
            notes.append(f"{set_name}: fixation data unreadable ({exc})")
            continue
        if not rows:
            notes.append(f"{set_name}: no video in the reporting split")
            continue
        samples += rows
        used += 1
        missing = [n for n, s in (("STA predictions", pred), ("method maps", mmap)) if s is None]
        if missing:
            notes.append(f"{set_name}: {' and '.join(missing)} missing (drawn as 'not available')")
    return samples, notes
