"""Exact resume: interrupted + resumed CPU runs end bitwise equal to an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from training_toys import ToyDataset, ce_loss, clone_state, make_model, states_equal

from avsal.training import TrainConfig, Trainer, load_checkpoint


class Interrupted(Exception):
    """Stands in for a SIGTERM / node loss in the middle of an epoch."""


def _config(tmp: Path, **overrides) -> TrainConfig:
    # Dropout, augmentation, shuffling and momentum all carry state across steps: a resume that
    # forgot any RNG stream, the data order or the optimizer state would end elsewhere.
    base = dict(
        epochs=3, batch_size=8, lr=0.05, seed=11, checkpoint_dir=tmp, progress=False, device="cpu"
    )
    base.update(overrides)
    return TrainConfig(**base)


def _fit(config: TrainConfig, *, init_seed: int = 7, **kwargs):
    model = make_model(dropout=0.3, init_seed=init_seed)
    result = Trainer(
        model=model,
        train_set=ToyDataset(40, augment=True),  # 40 / 8: 5 steps per epoch
        loss_fn=ce_loss,
        config=config,
        **kwargs,
    ).fit()
    return model, result


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    model, result = _fit(_config(tmp_path_factory.mktemp("ref")))
    return clone_state(model), result


def test_resume_at_epoch_boundary_is_bitwise_exact(tmp_path, uninterrupted):
    ref_state, ref_result = uninterrupted
    _, first = _fit(_config(tmp_path, epochs=2))
    assert first.epochs_completed == 2
    assert load_checkpoint(tmp_path / "last.pt")["epochs_done"] == 2

    # A new engine and a differently initialised model: everything must come from the file.
    model, resumed = _fit(_config(tmp_path, epochs=3), init_seed=99)
    assert resumed.start_epoch == 2
    assert resumed.epochs_completed == 3
    assert [r["epoch"] for r in resumed.history] == [0, 1, 2]
    assert states_equal(clone_state(model), ref_state)
    assert [r["train/loss"] for r in resumed.history] == [
        r["train/loss"] for r in ref_result.history
    ]


def test_resume_after_mid_epoch_interruption_restarts_that_epoch(tmp_path, uninterrupted):
    ref_state, _ = uninterrupted

    def interrupt(epoch: int, step: int, metrics: dict[str, float]) -> None:
        if epoch == 1 and step == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        crashed_model, _ = _fit(_config(tmp_path), on_step_end=interrupt)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epochs_done"] == 1  # the half-done epoch 1 was never checkpointed

    model, resumed = _fit(_config(tmp_path), init_seed=99)
    assert resumed.start_epoch == 1
    assert states_equal(clone_state(model), ref_state)


def test_nothing_left_to_do_returns_saved_history(tmp_path):
    trained, first = _fit(_config(tmp_path, epochs=2))
    model, again = _fit(_config(tmp_path, epochs=2), init_seed=99)
    assert again.start_epoch == 2 and again.frames == 0
    assert again.history == first.history
    assert states_equal(clone_state(model), clone_state(trained))


def test_resume_refuses_changed_trajectory_settings(tmp_path):
    _fit(_config(tmp_path, epochs=1))
    with pytest.raises(ValueError, match=r"lr: 0\.05 -> 0\.1"):
        _fit(_config(tmp_path, epochs=2, lr=0.1))
    # resume=False deliberately starts over in the same directory
    _, fresh = _fit(_config(tmp_path, epochs=1, lr=0.1, resume=False))
    assert fresh.start_epoch == 0


def test_checkpoint_is_plain_data_with_all_resume_state(tmp_path):
    model, _ = _fit(_config(tmp_path, epochs=1))
    raw = torch.load(tmp_path / "last.pt", weights_only=True)  # no pickled classes inside

    def walk(obj) -> None:
        assert not isinstance(obj, (torch.nn.Module, torch.optim.Optimizer))
        if isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                walk(v)
        else:
            assert isinstance(obj, (torch.Tensor, int, float, str, bool, type(None))), type(obj)

    walk(raw)
    assert raw["epochs_done"] == 1
    assert states_equal(raw["model"], clone_state(model))
    assert {"state", "param_groups"} <= raw["optimizer"].keys()
    assert all("momentum_buffer" in s for s in raw["optimizer"]["state"].values())
    assert {"torch", "numpy", "python", "cuda"} <= raw["rng"].keys()
    assert {"seed", "next_epoch", "generator_state"} <= raw["sampler"].keys()
    assert raw["config"]["lr"] == 0.05 and raw["config"]["checkpoint_dir"] == str(tmp_path)
    assert len(raw["history"]) == 1
