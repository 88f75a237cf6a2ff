"""Tiny models, datasets and losses shared by the training tests and the DDP worker script."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

DIM = 6
CLASSES = 3


class ToyDataset(Dataset):
    """Fixed random features/labels; `augment` adds noise drawn from torch's global RNG in
    __getitem__ (like a real augmentation), so item randomness must be seeded by the engine."""

    def __init__(self, n: int = 32, *, augment: bool = False, data_seed: int = 123) -> None:
        g = torch.Generator().manual_seed(data_seed)
        self.x = torch.randn(n, DIM, generator=g)
        self.y = torch.randint(0, CLASSES, (n,), generator=g)
        self.augment = augment

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        x = self.x[i]
        if self.augment:
            x = x + 0.1 * torch.randn(DIM)
        return {"x": x, "y": self.y[i], "idx": torch.tensor(i)}


class ToyNet(nn.Module):
    """Keyword-input MLP (like the project's nets), optional dropout, no batch-norm."""

    def __init__(self, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(DIM, 16)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(16, CLASSES)

    def forward(self, *, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(torch.relu(self.fc1(x))))


def make_model(*, dropout: float = 0.0, init_seed: int = 7) -> ToyNet:
    torch.manual_seed(init_seed)
    return ToyNet(dropout=dropout)


def ce_loss(model: nn.Module, batch: Mapping[str, torch.Tensor]):
    logits = model(x=batch["x"])
    loss = F.cross_entropy(logits, batch["y"])
    return loss, {"acc": (logits.argmax(1) == batch["y"]).float().mean()}


def clone_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}


def states_equal(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    """Bitwise equality of two state_dicts."""
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


def max_abs_diff(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].cpu() - b[k].cpu()).abs().max()) for k in a)
