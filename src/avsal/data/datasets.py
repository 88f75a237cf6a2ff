"""Torch datasets over the prepared cache: what every net in the method is fed.

A sample is a dict of tensors named as the nets' keyword inputs (``frame``, ``clip``,
``audio``) plus targets (``target`` soft class vector, ``pseudo`` map, ``switch`` label) and its
position (``ref``) so outputs can be written back in order.  Crops for the fine stage are applied
here, from per-sample boxes in cached-frame coordinates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from avsal.data.prepared import PreparedSet
from avsal.utils.io import atomic_write_json

__all__ = ["FrameDataset", "MapStore", "RowView", "to_float_frames", "clip_indices"]

Ref = tuple[int, int]  # (clip number in the prepared index, frame index in the clip)


def to_float_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 [..., H, W, 3] -> float32 [..., 3, H, W] RGB in [0, 1] (the nets normalise inside)."""
    return np.moveaxis(frames.astype(np.float32) / 255.0, -1, -3)


def clip_indices(i: int, n_frames: int, clip_frames: int) -> list[int]:
    """The ``clip_frames`` neighbours centred on frame ``i``, clamped at the clip's ends."""
    half = clip_frames // 2
    return [min(max(j, 0), n_frames - 1) for j in range(i - half, i + half + 1)]


def _crop_resize(img: np.ndarray, box: Sequence[int] | None, size: tuple[int, int]) -> np.ndarray:
    if box is not None:
        y0, x0, y1, x1 = (int(b) for b in box)
        img = img[y0:y1, x0:x1]
    h, w = size
    if img.shape[:2] == (h, w):
        return img
    return cv2.resize(
        img, (w, h), interpolation=cv2.INTER_AREA if img.shape[0] > h else cv2.INTER_LINEAR
    )


class FrameDataset(Dataset):
    """Frames of a prepared set at ``input_size``, optionally cropped by per-sample boxes."""

    def __init__(
        self,
        prepared: PreparedSet,
        refs: Sequence[Ref],
        *,
        input_size: tuple[int, int],
        clip_frames: int = 1,
        num_classes: int | None = None,
        boxes: np.ndarray | None = None,  # int [len(refs), 4] (y0, x0, y1, x1), cached-frame coords
        pseudo: np.ndarray | None = None,  # float [len(refs), H, W] targets, cached-frame size
        switch: np.ndarray | None = None,  # float [len(refs)] binary audio-switch labels
        hflip: bool = False,  # random horizontal flip (training augmentation)
    ) -> None:
        if clip_frames < 1 or clip_frames % 2 == 0:
            raise ValueError(f"clip_frames must be odd and >= 1, got {clip_frames}")
        for name, arr in (("boxes", boxes), ("pseudo", pseudo), ("switch", switch)):
            if arr is not None and len(arr) != len(refs):
                raise ValueError(f"{name} has {len(arr)} rows for {len(refs)} samples")
        self.prepared = prepared
        self.refs = list(refs)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.clip_frames = clip_frames
        self.num_classes = num_classes
        self.boxes = boxes
        self.pseudo = pseudo
        self.switch = switch
        self.hflip = hflip

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        ci, i = self.refs[k]
        clip = self.prepared.clips[ci]
        box = None if self.boxes is None else self.boxes[k]
        idx = clip_indices(i, clip.n_frames, self.clip_frames)
        raw = self.prepared.frames(clip, idx)  # [T, H, W, 3]
        frames = np.stack([_crop_resize(f, box, self.input_size) for f in raw])
        # the training engine seeds numpy per (seed, epoch, item), so this draw is reproducible
        flip = self.hflip and np.random.random() < 0.5  # noqa: NPY002 (the engine seeds it per item)
        if flip:
            frames = frames[:, :, ::-1]
        x = to_float_frames(frames)  # [T, 3, h, w]
        sample = {
            "frame": torch.from_numpy(np.ascontiguousarray(x[len(idx) // 2])),  # [3, h, w]
            "audio": torch.from_numpy(self.prepared.audio(clip, i)),  # [1, F, Ta]
            "ref": torch.tensor([ci, i]),
        }
        if self.clip_frames > 1:
            sample["clip"] = torch.from_numpy(
                np.ascontiguousarray(np.moveaxis(x, 0, 1))
            )  # [3, T, h, w]
        if self.num_classes is not None:
            target = np.zeros(self.num_classes, np.float32)
            labels = clip.labels[i]
            if labels:
                target[labels] = 1.0 / len(labels)  # a two-tag frame is half one, half the other
            sample["target"] = torch.from_numpy(target)
        if self.pseudo is not None:
            m = _crop_resize(np.asarray(self.pseudo[k], np.float32), box, self.input_size)
            if flip:
                m = m[:, ::-1]
            sample["pseudo"] = torch.from_numpy(np.ascontiguousarray(m))[None]  # [1, h, w]
        if self.switch is not None:
            sample["switch"] = torch.tensor(float(self.switch[k]))
        return sample


class RowView:
    """Rows ``index`` of a (memory-mapped) array, read one at a time: a dataset's targets
    without a copy of them in memory.  ``view[k]`` is ``array[index[k]]`` (its ``channel``
    along the next axis when one is given)."""

    def __init__(self, array: np.ndarray, index: Sequence[int], channel: int | None = None) -> None:
        self.array, self.index, self.channel = array, np.asarray(index, np.int64), channel
        inner = array.shape[1:] if channel is None else array.shape[2:]
        self.shape = (len(self.index), *inner)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> np.ndarray:
        row = self.array[int(self.index[k])]
        return np.asarray(row if self.channel is None else row[self.channel])


@dataclass
class MapStore:
    """Per-frame maps (CAMs, pseudo-GT, predictions) stored losslessly as float16/float32 .npy.

    ``refs`` name each row as (clip_id, frame index) so a store can be read against any
    prepared set; never 8-bit JPEG.
    """

    maps: np.ndarray  # [N, ...]
    refs: list[tuple[str, int]]
    extra: dict[str, np.ndarray] | None = None

    def save(self, folder: str | Path) -> Path:
        from avsal.utils.io import atomic_write_bytes

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, arr in {"maps": self.maps, **(self.extra or {})}.items():
            import io

            buf = io.BytesIO()
            np.save(buf, arr)
            atomic_write_bytes(folder / f"{name}.npy", buf.getvalue())
        atomic_write_json(
            folder / "refs.json",
            {"refs": [list(r) for r in self.refs], "extra": sorted(self.extra or {})},
        )
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, mmap: bool = True) -> MapStore:
        folder = Path(folder)
        meta_path = folder / "refs.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{meta_path}: map store not found")
        meta = json.loads(meta_path.read_text())
        mode = "r" if mmap else None
        maps = np.load(folder / "maps.npy", mmap_mode=mode)
        extra = {k: np.load(folder / f"{k}.npy", mmap_mode=mode) for k in meta["extra"]}
        refs = [(str(a), int(b)) for a, b in meta["refs"]]
        if len(refs) != len(maps):
            raise ValueError(f"{folder}: {len(maps)} maps but {len(refs)} refs")
        return cls(maps=maps, refs=refs, extra=extra)

    def refs_in(self, prepared: PreparedSet) -> list[Ref]:
        """These rows as (clip number, frame) refs of ``prepared``."""
        order = {c.clip_id: ci for ci, c in enumerate(prepared.clips)}
        try:
            return [(order[cid], i) for cid, i in self.refs]
        except KeyError as exc:
            raise KeyError(f"clip {exc} of the map store is not in {prepared.root}") from None
