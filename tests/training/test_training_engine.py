"""The engine: optimisation matches a hand-written loop, seeding, workers, NaN guard, metrics."""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from training_toys import (
    ToyDataset,
    ce_loss,
    clone_state,
    make_model,
    max_abs_diff,
    states_equal,
)

from avsal.training import (
    DistInfo,
    TrainConfig,
    Trainer,
    build_optimizer,
    load_checkpoint,
    load_state_dict_file,
    train,
)


def _run(config: TrainConfig, *, n: int = 32, dropout: float = 0.0, augment: bool = False, **kw):
    model = make_model(dropout=dropout)
    result = train(
        model=model,
        train_set=ToyDataset(n, augment=augment),
        loss_fn=kw.pop("loss_fn", ce_loss),
        config=config,
        **kw,
    )
    return model, result


def _cfg(**overrides) -> TrainConfig:
    base = dict(epochs=2, batch_size=8, lr=0.05, progress=False, device="cpu")
    base.update(overrides)
    return TrainConfig(**base)


class OrderRecorder:
    """loss_fn wrapper that records which examples each step saw."""

    def __init__(self) -> None:
        self.steps: list[list[int]] = []

    def __call__(self, model, batch):
        self.steps.append(batch["idx"].tolist())
        return ce_loss(model, batch)


# --------------------------------------------------------------------------- configuration
def test_defaults_are_the_papers_sgd():
    cfg = TrainConfig()
    assert (cfg.optimizer, cfg.lr, cfg.momentum) == ("sgd", 1e-3, 0.9)
    opt = build_optimizer(make_model().parameters(), cfg)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["lr"] == 1e-3 and opt.param_groups[0]["momentum"] == 0.9


@pytest.mark.parametrize(
    "bad",
    [
        {"optimizer": "rmsprop"},
        {"batch_size": 0},
        {"lr": 0.0},
        {"momentum": 1.0},
        {"amp": "yes"},
        {"grad_clip": 0.0},
        {"num_workers": -1},
    ],
)
def test_invalid_config_is_refused(bad):
    with pytest.raises(ValueError, match="invalid TrainConfig"):
        TrainConfig(**bad)


def test_config_is_frozen_and_paths_are_normalised(tmp_path):
    cfg = TrainConfig(checkpoint_dir=str(tmp_path))
    assert cfg.checkpoint_dir == Path(tmp_path)
    with pytest.raises(AttributeError):
        cfg.lr = 1.0  # type: ignore[misc]


def test_bf16_and_channels_last_are_refused_on_cpu():
    with pytest.raises(ValueError, match="amp=True needs a CUDA device"):
        _run(_cfg(device="cpu", amp=True))
    with pytest.raises(ValueError, match="channels_last=True needs a CUDA device"):
        _run(_cfg(device="cpu", channels_last=True))


def test_global_batch_must_split_evenly_over_ranks():
    with pytest.raises(ValueError, match="not divisible by world size 3"):
        Trainer(
            model=make_model(),
            train_set=ToyDataset(16),
            loss_fn=ce_loss,
            config=_cfg(),
            dist_info=DistInfo(world_size=3, rank=0, local_rank=0),
        ).fit()


# --------------------------------------------------------------------------- optimisation
def _manual_reference(optimizer: str, grad_clip: float | None, **opt_kw) -> dict:
    """The textbook loop the engine must reproduce: same init, order, optimizer, clipping."""
    model = make_model()
    params = list(model.parameters())
    opt = {
        "sgd": lambda: torch.optim.SGD(params, lr=0.05, momentum=0.9, **opt_kw),
        "adam": lambda: torch.optim.Adam(params, lr=0.05, **opt_kw),
        "adamw": lambda: torch.optim.AdamW(params, lr=0.05, **opt_kw),
    }[optimizer]()
    loader = DataLoader(ToyDataset(32), batch_size=8, shuffle=False)
    for _ in range(2):
        for batch in loader:
            opt.zero_grad()
            loss, _ = ce_loss(model, batch)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            opt.step()
    return clone_state(model)


@pytest.mark.parametrize(
    ("optimizer", "grad_clip", "opt_kw"),
    [
        ("sgd", None, {"weight_decay": 1e-3}),
        ("sgd", 0.05, {}),
        ("adam", None, {"betas": (0.8, 0.99)}),
        ("adamw", None, {"weight_decay": 0.1}),
    ],
)
def test_engine_equals_hand_written_loop(optimizer, grad_clip, opt_kw, tmp_path):
    cfg = _cfg(
        optimizer=optimizer,
        grad_clip=grad_clip,
        shuffle=False,
        checkpoint_dir=tmp_path,
        weight_decay=opt_kw.get("weight_decay", 0.0),
        betas=opt_kw.get("betas", (0.9, 0.999)),
    )
    model, _ = _run(cfg)
    assert (
        max_abs_diff(clone_state(model), _manual_reference(optimizer, grad_clip, **opt_kw)) < 1e-6
    )
    state = load_checkpoint(tmp_path / "last.pt")["optimizer"]["state"]
    expected_key = "momentum_buffer" if optimizer == "sgd" else "exp_avg_sq"
    assert all(expected_key in s for s in state.values())


def test_optimizers_lead_to_different_weights():
    states = [clone_state(_run(_cfg(optimizer=o))[0]) for o in ("sgd", "adam")]
    assert not states_equal(*states)


# --------------------------------------------------------------------------- seeding / data order
def test_same_seed_same_weights_different_seed_different():
    def run(seed: int):
        rec = OrderRecorder()
        model, _ = _run(_cfg(seed=seed), dropout=0.3, augment=True, loss_fn=rec)
        return clone_state(model), rec.steps

    a, order_a = run(5)
    b, order_b = run(5)
    c, order_c = run(6)
    assert states_equal(a, b) and order_a == order_b
    assert not states_equal(a, c) and order_a != order_c
    # every epoch is a fresh permutation of all examples
    epoch0 = sum(order_a[:4], [])
    epoch1 = sum(order_a[4:], [])
    assert sorted(epoch0) == sorted(epoch1) == list(range(32)) and epoch0 != epoch1


def test_data_order_and_augmentation_do_not_depend_on_num_workers():
    def run(workers: int):
        rec = OrderRecorder()
        model, _ = _run(_cfg(seed=2, num_workers=workers), dropout=0.3, augment=True, loss_fn=rec)
        return clone_state(model), rec.steps

    s0, order0 = run(0)
    s2, order2 = run(2)
    assert order0 == order2
    assert states_equal(s0, s2)


def test_callbacks_that_draw_random_numbers_do_not_change_training():
    """Epoch RNG streams come from (seed, epoch): a logger or eval that draws random numbers
    between epochs (as in an uninterrupted run, but not before a resume) changes nothing."""

    def greedy(*_args) -> dict:
        torch.rand(3)
        np.random.rand(3)  # noqa: NPY002
        random.random()
        return {}

    plain, _ = _run(_cfg(epochs=3, seed=4), dropout=0.3, augment=True)
    noisy, _ = _run(
        _cfg(epochs=3, seed=4), dropout=0.3, augment=True, eval_fn=greedy, on_epoch_end=greedy
    )
    assert states_equal(clone_state(plain), clone_state(noisy))


def test_workers_are_stopped_when_training_fails():
    class Boom(Exception):
        pass

    def boom(epoch, step, metrics):
        raise Boom

    with pytest.raises(Boom) as excinfo:  # the traceback keeps the engine's frames alive
        _run(_cfg(num_workers=2), on_step_end=boom)
    assert excinfo.value is not None
    assert multiprocessing.active_children() == []


# --------------------------------------------------------------------------- NaN guard
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, bad):
    calls = {"n": 0}
    after_epoch0: dict = {}

    def poisoned(model, batch):
        loss, metrics = ce_loss(model, batch)
        calls["n"] += 1
        if calls["n"] == 4 + 3:  # epoch 1 (4 steps per epoch), step 2
            loss = loss * bad
        return loss, metrics

    def remember(epoch, record):
        after_epoch0.update(clone_state(model))

    model = make_model()
    with pytest.raises(FloatingPointError, match=r"epoch 1 .*step 2") as err:
        Trainer(
            model=model,
            train_set=ToyDataset(32),
            loss_fn=poisoned,
            config=_cfg(epochs=3, shuffle=False, checkpoint_dir=tmp_path),
            on_epoch_end=remember,
        ).fit()
    assert "last.pt" in str(err.value)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt["epochs_done"] == 1
    assert states_equal(ckpt["model"], after_epoch0)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no poisoned step taken
    assert os.listdir(tmp_path) == ["last.pt"]


# --------------------------------------------------------------------------- outputs
def test_returned_metrics_history_callbacks_and_export(tmp_path):
    seen_epochs: list[tuple[int, dict]] = []
    step_losses: list[float] = []
    eval_calls: list[tuple[bool, bool]] = []

    def eval_fn(model, epoch):
        eval_calls.append((model.training, torch.is_grad_enabled()))
        return {"score": float(epoch) + 0.5}

    model, result = _run(
        _cfg(epochs=3, checkpoint_dir=tmp_path / "ckpt", export_path=tmp_path / "model.pt"),
        eval_fn=eval_fn,
        on_epoch_end=lambda e, r: seen_epochs.append((e, r)),
        on_step_end=lambda e, s, m: step_losses.append(m["train/loss"]),
    )
    out = result.to_dict()
    assert set(out) == {
        "history",
        "final_metrics",
        "wall_time_s",
        "frames_per_s",
        "frames",
        "start_epoch",
        "epochs_completed",
        "world_size",
        "device",
        "checkpoint_path",
        "final_weights_path",
    }
    assert len(result.history) == 3 and result.final_metrics == result.history[-1]
    assert set(result.history[0]) == {
        "epoch",
        "train/loss",
        "train/acc",
        "eval/score",
        "lr",
        "epoch_time_s",
        "frames_per_s",
    }
    assert [r["eval/score"] for r in result.history] == [0.5, 1.5, 2.5]
    assert eval_calls == [(False, False)] * 3  # eval mode, no grad
    assert [e for e, _ in seen_epochs] == [0, 1, 2]
    assert [r for _, r in seen_epochs] == result.history
    # epoch loss = mean of its 4 equal-sized step losses
    assert result.history[1]["train/loss"] == pytest.approx(sum(step_losses[4:8]) / 4)
    assert result.history[0]["lr"] == 0.05
    assert result.frames == 3 * 32 and result.frames_per_s > 0 and result.wall_time_s > 0
    assert (result.world_size, result.device, result.start_epoch) == (1, "cpu", 0)
    assert result.checkpoint_path == str(tmp_path / "ckpt" / "last.pt")
    exported = load_state_dict_file(result.final_weights_path)
    assert states_equal(exported, clone_state(model))
    assert model.training  # handed back in train mode


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("progress", "tty", "expect_bar"),
    [
        (True, True, True),
        (False, True, False),
        (True, False, False),
    ],
)
def test_progress_bar_only_when_asked_and_on_a_tty(monkeypatch, progress, tty, expect_bar):
    stream = _FakeTTY() if tty else io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    _run(_cfg(epochs=1, progress=progress))
    assert ("epoch 1/1" in stream.getvalue()) is expect_bar
