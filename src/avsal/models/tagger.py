"""Audio-switch labels (Sec. 3.7) from an audio tagger behind one interface.

The paper labels a (frame, 1 s audio) fragment 1 when an off-the-shelf audio classifier
(VGGSound) predicts the video's own category, else 0. Any tagger plugs in through
``AudioTagger.predict_top1(clip_ids, seconds) -> class indices`` in the project's tag space
(the AVE categories), with ``NO_MATCH`` (-1) for audio classes outside it:

- ``PredictionsFileTagger``: a CSV from any external tagger (e.g. VGGSound run elsewhere);
- the project's own out-of-fold ``audio`` nets trained on the AVE tags are run by the
  audio_switch stage itself (``avsal.stages.train_cls``), per frame through ``infer``.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, overload, runtime_checkable

import numpy as np
import torch
from torch import Tensor

NO_MATCH = -1
CSV_HEADER = ("video_id", "second", "label")


@runtime_checkable
class AudioTagger(Protocol):
    """Predicts the top-1 audio class of each clip second, in the project's tag space."""

    def predict_top1(self, clip_ids: Sequence[str], seconds: Sequence[int]) -> np.ndarray:
        """-> int64 [N] class indices, ``NO_MATCH`` where the audio class is not a project tag."""
        ...


def _check_query(clip_ids: Sequence[str], seconds: Sequence[int]) -> None:
    if len(clip_ids) != len(seconds):
        raise ValueError(f"{len(clip_ids)} clip ids but {len(seconds)} seconds")


class PredictionsFileTagger:
    """Reads an external tagger's predictions: CSV rows ``video_id,second,label``.

    - ``label`` is a category name; ``label_map`` first maps external names to project names
      (e.g. VGGSound's "dog barking" -> AVE's "Bark"); names are matched to ``class_names``
      ignoring case and surrounding spaces; unknown names -> ``NO_MATCH``.
    - An optional header line ``video_id,second,label``; blank lines are skipped; a label may
      contain commas (quoted, or unquoted as the last field).
    - Malformed lines (missing fields, a second that is not a non-negative integer, an empty id
      or label, a duplicate (video_id, second)) raise ValueError naming the file and line.
    """

    def __init__(
        self,
        *,
        path: str | os.PathLike,
        class_names: Sequence[str],
        label_map: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self._index = {name.strip().lower(): i for i, name in enumerate(class_names)}
        self._map = {k.strip().lower(): v for k, v in (label_map or {}).items()}
        self.predictions: dict[tuple[str, int], int] = self._read()

    def _class_of(self, label: str) -> int:
        key = label.strip().lower()
        key = self._map.get(key, key).strip().lower()
        return self._index.get(key, NO_MATCH)

    def _read(self) -> dict[tuple[str, int], int]:
        if not self.path.is_file():
            raise FileNotFoundError(f"tagger predictions file not found: {self.path}")
        preds: dict[tuple[str, int], int] = {}
        first_line: dict[tuple[str, int], int] = {}
        with self.path.open(newline="", encoding="utf-8") as f:
            for line_no, row in enumerate(csv.reader(f), start=1):
                if not row or all(not c.strip() for c in row):
                    continue
                if not first_line and tuple(c.strip().lower() for c in row) == CSV_HEADER:
                    continue

                def bad(why: str, row: list[str] = row, line_no: int = line_no) -> ValueError:
                    return ValueError(
                        f"{self.path}, line {line_no}: {why}; expected 'video_id,second,label', "
                        f"got {','.join(row)!r}"
                    )

                if len(row) < 3:
                    raise bad(f"{len(row)} field(s)")
                vid, sec_text, label = row[0].strip(), row[1].strip(), ",".join(row[2:]).strip()
                if not vid:
                    raise bad("empty video_id")
                if not label:
                    raise bad("empty label")
                try:
                    sec = int(sec_text)
                except ValueError:
                    raise bad(f"second {sec_text!r} is not an integer") from None
                if sec < 0:
                    raise bad(f"negative second {sec}")
                if (vid, sec) in preds:
                    raise bad(
                        f"duplicate row for ({vid}, {sec}), first at line {first_line[(vid, sec)]}"
                    )
                preds[(vid, sec)] = self._class_of(label)
                first_line[(vid, sec)] = line_no
        return preds

    def predict_top1(self, clip_ids: Sequence[str], seconds: Sequence[int]) -> np.ndarray:
        _check_query(clip_ids, seconds)
        out = np.empty(len(clip_ids), dtype=np.int64)
        for i, (c, s) in enumerate(zip(clip_ids, seconds)):
            try:
                out[i] = self.predictions[(c, int(s))]
            except KeyError:
                raise KeyError(
                    f"{self.path} has no prediction for video {c!r} second {s}"
                ) from None
        return out


@overload
def switch_labels(tag_index: int, predicted_top1: int) -> int: ...
@overload
def switch_labels(tag_index: np.ndarray, predicted_top1: np.ndarray) -> np.ndarray: ...
@overload
def switch_labels(tag_index: Tensor, predicted_top1: Tensor) -> Tensor: ...


def switch_labels(tag_index, predicted_top1):  # type: ignore[no-untyped-def]
    """Audio-switch label: 1 where the tagger's top-1 equals the video's tag, else 0.

    Works on ints, numpy arrays or tensors (int64 result of the same kind). Tags must be real
    classes (>= 0), so ``NO_MATCH`` predictions always give 0.
    """
    if isinstance(tag_index, Tensor) or isinstance(predicted_top1, Tensor):
        tag, pred = torch.as_tensor(tag_index), torch.as_tensor(predicted_top1)
        if bool((tag < 0).any()):
            raise ValueError("tag indices must be >= 0")
        return (tag == pred.to(tag.device)).to(torch.int64)
    tag_a, pred_a = np.asarray(tag_index), np.asarray(predicted_top1)
    if (tag_a < 0).any():
        raise ValueError("tag indices must be >= 0")
    out = (tag_a == pred_a).astype(np.int64)
    return int(out) if out.ndim == 0 else out
