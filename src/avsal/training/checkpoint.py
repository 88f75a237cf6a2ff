"""Atomic, pickle-free checkpoints.

A checkpoint is a dict of tensors and plain python values (never a pickled nn.Module or
optimizer object), so it loads with `torch.load(weights_only=True)`: loading a file cannot run
code, and it survives refactors of the model classes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FORMAT = "avsal.training.checkpoint/1"
LAST_CHECKPOINT = "last.pt"


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """`torch.save` that never leaves a half-written file at `path`.

    Writes a temp file in the same directory (same filesystem, so the rename is atomic), fsyncs
    it, `os.replace`s it over `path`, then fsyncs the directory so the rename itself is durable.
    On any error the temp file is removed and `path` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Persist a rename; some platforms/filesystems cannot open directories, which is fine."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def portable_state_dict(state: Mapping[str, Any]) -> dict[str, Any]:
    """Detached, contiguous CPU copies: loadable anywhere, independent of channels_last/GPU."""
    return {
        k: (v.detach().to("cpu").contiguous() if isinstance(v, torch.Tensor) else v)
        for k, v in state.items()
    }


def save_state_dict(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Export model weights (a state_dict) atomically as portable CPU tensors."""
    return atomic_torch_save(portable_state_dict(state), path)


def load_state_dict_file(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a file written by `save_state_dict` (weights only: no code runs while loading)."""
    return torch.load(Path(path), map_location=map_location, weights_only=True)


def save_checkpoint(path: str | os.PathLike[str], checkpoint: Mapping[str, Any]) -> Path:
    """Write a training checkpoint dict atomically, tagged with its format version."""
    return atomic_torch_save({"format": CHECKPOINT_FORMAT, **checkpoint}, path)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint safely (`weights_only=True`) and check it is one of ours."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt file or foreign pickle
        raise ValueError(f"cannot load checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(
            f"{path} is not an avsal training checkpoint (expected format "
            f"{CHECKPOINT_FORMAT!r}, found {found!r})"
        )
    return ckpt
