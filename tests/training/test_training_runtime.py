"""Reusable helpers: device placement, autocast, torchrun env detection, seeding utilities."""

from __future__ import annotations

import random
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import torch
from torch import nn
from training_toys import ToyDataset, make_model

from avsal.training import (
    TrainConfig,
    autocast_context,
    derive_seed,
    detect_distributed,
    resolve_amp,
    resolve_channels_last,
    resolve_device,
    to_device,
    train,
)
from avsal.training.seeding import capture_rng_state, restore_rng_state

CPU = torch.device("cpu")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

Pair = namedtuple("Pair", "a b")


def test_to_device_walks_nested_batches_and_applies_channels_last():
    batch = {
        "frames": torch.randn(2, 3, 5, 5),
        "labels": torch.zeros(2, 2, 4, 4, dtype=torch.long),  # 4-D but not an image
        "audio": [torch.randn(2, 7), (torch.randn(2, 3, 4, 4), "tag")],
        "pair": Pair(torch.ones(1), 3),
        "od": OrderedDict(x=torch.randn(1, 2, 3, 3)),
        "name": "clip",
    }
    out = to_device(batch, CPU, channels_last=True)
    cl = torch.channels_last
    assert out["frames"].is_contiguous(memory_format=cl) and not batch["frames"].is_contiguous(
        memory_format=cl
    )
    assert torch.equal(out["frames"], batch["frames"])
    assert out["audio"][1][0].is_contiguous(memory_format=cl)
    assert out["audio"][1][1] == "tag" and isinstance(out["audio"][1], tuple)
    assert not out["labels"].is_contiguous(memory_format=cl)
    assert isinstance(out["pair"], Pair) and out["pair"].b == 3
    assert isinstance(out["od"], OrderedDict) and out["od"]["x"].is_contiguous(memory_format=cl)
    assert out["name"] == "clip"
    plain = to_device(batch, "cpu", channels_last=False)
    assert not plain["frames"].is_contiguous(memory_format=cl)


def test_autocast_context_switches_matmul_to_bf16_only_when_enabled():
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast_context(CPU, enabled=True):
        assert (a @ b).dtype == torch.bfloat16
    with autocast_context("cpu", enabled=False):
        assert (a @ b).dtype == torch.float32


def test_auto_policies_are_off_on_cpu_and_explicit_requests_fail():
    assert resolve_amp("auto", CPU) is False and resolve_amp(False, CPU) is False
    assert resolve_channels_last("auto", CPU) is False
    with pytest.raises(ValueError):
        resolve_amp(True, CPU)
    with pytest.raises(ValueError):
        resolve_channels_last(True, CPU)
    assert resolve_device("cpu") == CPU
    if not torch.cuda.is_available():
        assert resolve_device("auto") == CPU
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            resolve_device("cuda")


def test_detect_distributed_reads_torchrun_env():
    assert not detect_distributed({}).is_distributed
    info = detect_distributed({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (info.world_size, info.rank, info.local_rank) == (4, 3, 1)
    assert info.is_distributed and not info.is_main
    single = detect_distributed({"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0"})
    assert not single.is_distributed and single.is_main
    with pytest.raises(ValueError, match="inconsistent"):
        detect_distributed({"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"})
    with pytest.raises(ValueError, match="must be integers"):
        detect_distributed({"WORLD_SIZE": "two"})


def test_derive_seed_is_stable_mixed_and_in_range():
    assert derive_seed(1, 2) == derive_seed(1, 2)
    assert len({derive_seed(1, 2), derive_seed(2, 1), derive_seed(0, 3), derive_seed(1, 2, 0)}) == 4
    assert all(0 <= derive_seed(s, e) < 2**63 for s in range(5) for e in range(5))


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    random.seed(1)
    np.random.seed(1)  # noqa: NPY002
    torch.manual_seed(1)
    np.random.randn()  # noqa: NPY002
    state = capture_rng_state()
    path = tmp_path / "rng.pt"
    torch.save(state, path)
    first = (random.random(), np.random.randn(3).tolist(), torch.rand(3).tolist())  # noqa: NPY002
    restore_rng_state(torch.load(path, weights_only=True))
    again = (random.random(), np.random.randn(3).tolist(), torch.rand(3).tolist())  # noqa: NPY002
    assert first == again


# --------------------------------------------------------------------------- GPU only
class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 3)

    def forward(self, *, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean((2, 3)))


class ImageSet(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int):
        return {"x": torch.randn(3, 8, 8), "y": torch.tensor(i % 3)}


@pytest.mark.gpu
@needs_cuda
def test_cuda_run_uses_bf16_autocast_channels_last_and_pinned_memory():
    seen: dict = {}

    def loss_fn(model, batch):
        seen["autocast"] = torch.is_autocast_enabled("cuda")
        seen["dtype"] = torch.get_autocast_dtype("cuda")
        seen["input_cl"] = batch["x"].is_contiguous(memory_format=torch.channels_last)
        seen["device"] = batch["x"].device.type
        logits = model(x=batch["x"])
        seen["logits_dtype"] = logits.dtype
        return torch.nn.functional.cross_entropy(logits.float(), batch["y"]), {}

    model = ConvNet()
    result = train(
        model=model,
        train_set=ImageSet(),
        loss_fn=loss_fn,
        config=TrainConfig(epochs=1, batch_size=8, num_workers=1, progress=False),
    )
    assert result.device.startswith("cuda")
    assert seen == {
        "autocast": True,
        "dtype": torch.bfloat16,
        "input_cl": True,
        "device": "cuda",
        "logits_dtype": torch.bfloat16,
    }
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.gpu
@needs_cuda
def test_cuda_run_can_turn_amp_and_channels_last_off():
    model = make_model()
    seen = {}

    def loss_fn(m, batch):
        seen["autocast"] = torch.is_autocast_enabled("cuda")
        logits = m(x=batch["x"])
        return torch.nn.functional.cross_entropy(logits, batch["y"]), {}

    train(
        model=model,
        train_set=ToyDataset(16),
        loss_fn=loss_fn,
        config=TrainConfig(epochs=1, batch_size=8, amp=False, channels_last=False, progress=False),
    )
    assert seen["autocast"] is False
