"""Checkpoints are atomic, pickle-free and refuse foreign files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from training_toys import ToyDataset, ce_loss, clone_state, make_model, states_equal

from avsal.training import (
    TrainConfig,
    Trainer,
    atomic_torch_save,
    load_checkpoint,
    load_state_dict_file,
    save_state_dict,
)


class Killed(Exception):
    """The process 'dies' in the middle of writing a file."""


def _dying_save(obj, f, *args, **kwargs):
    """Write part of a real serialisation, then die: a torn file if we wrote in place."""
    f.write(b"PK\x03\x04 half a checkpoint")
    f.flush()
    raise Killed


def _fit(tmp: Path, epochs: int) -> torch.nn.Module:
    model = make_model()
    Trainer(
        model=model,
        train_set=ToyDataset(16),
        loss_fn=ce_loss,
        config=TrainConfig(
            epochs=epochs, batch_size=8, lr=0.1, checkpoint_dir=tmp, progress=False, device="cpu"
        ),
    ).fit()
    return model


def test_atomic_save_keeps_previous_file_when_writer_dies(tmp_path, monkeypatch):
    path = tmp_path / "weights.pt"
    atomic_torch_save({"w": torch.arange(4.0)}, path)
    before = path.read_bytes()

    monkeypatch.setattr(torch, "save", _dying_save)
    with pytest.raises(Killed):
        atomic_torch_save({"w": torch.zeros(4)}, path)

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["weights.pt"]  # no temp file left behind
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(4.0))


def test_engine_checkpoint_survives_a_crash_during_the_next_save(tmp_path, monkeypatch):
    trained = clone_state(_fit(tmp_path, epochs=1))
    monkeypatch.setattr(torch, "save", _dying_save)
    with pytest.raises(Killed):
        _fit(tmp_path, epochs=2)  # resumes, trains epoch 1, dies while checkpointing it
    monkeypatch.undo()

    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epochs_done"] == 1
    assert states_equal(ckpt["model"], trained)
    assert sorted(os.listdir(tmp_path)) == ["last.pt"]


def test_save_state_dict_exports_portable_weights(tmp_path):
    model = make_model(init_seed=3)
    conv = torch.nn.Conv2d(2, 4, 3).to(memory_format=torch.channels_last)
    state = {**model.state_dict(), "conv.weight": conv.weight}
    path = save_state_dict(tmp_path / "sub" / "final.pt", state)

    loaded = load_state_dict_file(path)
    assert loaded["conv.weight"].is_contiguous()  # layout-independent on disk
    assert torch.equal(loaded["conv.weight"], conv.weight.detach())
    fresh = make_model(init_seed=4)
    fresh.load_state_dict({k: v for k, v in loaded.items() if k != "conv.weight"})
    assert states_equal(clone_state(fresh), clone_state(model))


def test_load_checkpoint_rejects_missing_foreign_and_pickled_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot load checkpoint"):
        load_checkpoint(garbage)

    plain = save_state_dict(tmp_path / "weights.pt", make_model().state_dict())
    with pytest.raises(ValueError, match="not an avsal training checkpoint"):
        load_checkpoint(plain)

    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "avsal.training.checkpoint/1", "model": make_model()}, pickled)
    with pytest.raises(ValueError, match="cannot load checkpoint"):  # weights_only refuses it
        load_checkpoint(pickled)
