"""ExactSqrtAdam: torch's Adam/AdamW update with a correctly rounded square root."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

from avsal.training import TrainConfig, build_optimizer
from avsal.training.exact_adam import ExactSqrtAdam
from avsal.utils.numerics import ieee_sqrt


def test_ieee_sqrt_is_correctly_rounded():
    x = torch.rand(100_000, dtype=torch.float32) * 10
    got = ieee_sqrt(x).numpy().astype(np.float64)
    # correctly rounded: no float32 neighbour of the result is closer to the true root
    exact = np.sqrt(x.numpy().astype(np.float64))
    up = np.nextafter(got.astype(np.float32), np.float32(np.inf)).astype(np.float64)
    down = np.nextafter(got.astype(np.float32), np.float32(-np.inf)).astype(np.float64)
    err = np.abs(got - exact)
    assert (err <= np.abs(up - exact)).all() and (err <= np.abs(down - exact)).all()


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


def _train(net: nn.Module, opt: torch.optim.Optimizer, steps: int = 5) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(16, 6, generator=g), torch.randn(16, 3, generator=g)
        opt.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("decoupled", [False, True])
def test_the_update_is_torchs_adam_up_to_the_square_roots_rounding(decoupled):
    torch_cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    ref_net, net = _net(), _net()
    want = _train(ref_net, torch_cls(ref_net.parameters(), lr=3e-3, weight_decay=1e-2))
    got = _train(
        net, ExactSqrtAdam(net.parameters(), lr=3e-3, weight_decay=1e-2, decoupled=decoupled)
    )
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # and it moved: a wrong update direction would not pass the closeness above by luck
    assert not torch.equal(got[0], _net()[0].weight.detach())


def test_portable_training_configs_get_it_and_native_ones_do_not():
    params = list(_net().parameters())
    cfg = dict(epochs=1, batch_size=2, lr=1e-3, optimizer="adam")
    assert isinstance(build_optimizer(params, TrainConfig(**cfg, exact_sqrt=True)), ExactSqrtAdam)
    assert type(build_optimizer(params, TrainConfig(**cfg))) is torch.optim.Adam
    sgd = build_optimizer(params, TrainConfig(**{**cfg, "optimizer": "sgd"}, exact_sqrt=True))
    assert isinstance(sgd, torch.optim.SGD)  # SGD takes no square root


def test_its_state_survives_a_checkpoint_round_trip():
    net = _net()
    opt = ExactSqrtAdam(net.parameters(), lr=3e-3)
    _train(net, opt, steps=2)
    clone = _net()
    clone.load_state_dict(net.state_dict())
    opt2 = ExactSqrtAdam(clone.parameters(), lr=3e-3)
    buf = io.BytesIO()  # through bytes, as a checkpoint file (its tensors are not shared)
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    opt2.load_state_dict(torch.load(buf, weights_only=True))
    a, b = _train(net, opt, steps=2), _train(clone, opt2, steps=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
