"""Seeding that makes every random draw a function of (seed, epoch, ...) and nothing else.

Why not one `manual_seed` at start: a resumed run starts mid-stream, and DataLoader workers get
their own RNGs, so a single initial seed cannot reproduce an interrupted run or make results
independent of `num_workers`. Instead we derive:

* the data ORDER from (seed, epoch) - `DistributedSampler(seed=derive_seed(seed, SAMPLER))`
  with `set_epoch(epoch)`, on one process as on many;
* the global RNGs of each training epoch from (seed, epoch, rank);
* the RNGs seen by `dataset[i]` (augmentations) from (seed, epoch, i), whichever process or
  worker loads the item.

numpy's legacy global RNG (`np.random.seed` & co., flagged by ruff's NPY002) is used on purpose:
it is the stream that datasets and augmentations draw from, so it is what must be seeded.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, get_worker_info

# Stream tags: distinct derived seeds for distinct uses of the same (seed, epoch).
TAG_SAMPLER = 1
TAG_EPOCH = 2
TAG_ITEM = 3
TAG_LOADER = 4


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from non-negative integer keys (SeedSequence mixing, so (s, e) and
    (s + 1, e - 1) give unrelated streams, unlike `seed + epoch`). The key count is mixed in
    too, since SeedSequence alone treats (s, e) and (s, e, 0) alike."""
    entropy = [len(keys), *(int(k) for k in keys)]
    state = np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)
    return int(state[0]) >> 1


def seed_everything(seed: int) -> None:
    """Seed python `random`, numpy's global RNG and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


def worker_init_fn(worker_id: int) -> None:
    """Seed a DataLoader worker's python/numpy RNGs from the torch seed the loader gave it.

    The loader seeds torch in each worker with `base_seed + worker_id`, base_seed drawn from our
    (seed, epoch)-seeded loader generator. Recent torch also seeds python/numpy in workers by an
    internal recipe; we re-derive both from the documented torch seed so that a worker's
    streams are pinned down by our seeds alone, not by torch internals or a forked parent state.
    """
    del worker_id  # already folded into torch.initial_seed()
    seed = torch.initial_seed()
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002


def capture_rng_state() -> dict[str, Any]:
    """Global RNG states as tensors / plain python values (loadable with `weights_only=True`)."""
    _, key, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # noqa: NPY002
    cuda = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda = torch.cuda.get_rng_state_all()
    return {
        "python": random.getstate(),
        "numpy": {
            "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": cuda,
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng_state` (CUDA states only if the device count matches)."""
    py_version, py_internal, py_gauss = state["python"]
    random.setstate((py_version, tuple(py_internal), py_gauss))
    nps = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            "MT19937",
            nps["key"].numpy().astype(np.uint32),
            nps["pos"],
            nps["has_gauss"],
            nps["gauss"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@contextlib.contextmanager
def _preserved_cpu_rngs() -> Iterator[None]:
    """Run a block without disturbing python/numpy/torch-CPU global RNG streams."""
    py = random.getstate()
    npy = np.random.get_state()  # noqa: NPY002
    th = torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)  # noqa: NPY002
        torch.set_rng_state(th)


class EpochSeededDataset(Dataset):
    """View of a map-style dataset indexed by (epoch, index) that seeds the global RNGs from
    (seed, epoch, index) before calling `dataset[index]`.

    So augmentations drawn with `random`/`np.random`/`torch` inside `__getitem__` are the same
    whether the item is loaded in the main process, in worker 0 or worker 3, on rank 0 or 1,
    in an uninterrupted run or a resumed one. In the main process (num_workers=0) the caller's
    RNG streams (e.g. dropout) are saved and restored around the call so they don't depend on
    data loading either.
    """

    def __init__(self, dataset: Dataset, *, seed: int) -> None:
        if not isinstance(dataset, Sized):
            raise TypeError(
                f"training needs a map-style dataset with __len__, got {type(dataset).__name__}"
            )
        self.dataset = dataset
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        item_seed = derive_seed(self.seed, TAG_ITEM, epoch, index)
        if get_worker_info() is None:
            with _preserved_cpu_rngs():
                seed_everything_cpu(item_seed)
                return self.dataset[index]
        seed_everything_cpu(item_seed)
        return self.dataset[index]


def seed_everything_cpu(seed: int) -> None:
    """Like `seed_everything` but leaves CUDA generators alone (cheap enough to call per item)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.default_generator.manual_seed(seed)


class EpochTaggedSampler(Sampler[tuple[int, int]]):
    """Yields (epoch, index) from a sampler that has `set_epoch` (e.g. DistributedSampler), so the
    dataset view above knows the epoch even inside persistent workers."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch = self.epoch
        for index in self.sampler:
            yield epoch, int(index)

    def __len__(self) -> int:
        return len(self.sampler)
