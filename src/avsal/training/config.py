"""Typed, frozen configuration of the training engine (one for every net in the project)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

OptimizerName = Literal["sgd", "adam", "adamw"]
AutoBool = bool | Literal["auto"]

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adamw")

# Fields that shape the optimisation trajectory: resuming a checkpoint written with other values
# would silently produce a run that matches neither config, so `Trainer` refuses it.
TRAJECTORY_FIELDS: tuple[str, ...] = (
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "optimizer",
    "betas",
    "nesterov",
    "shuffle",
    "drop_last",
    "seed",
    "grad_clip",
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything the engine needs; defaults are the paper's (SGD, momentum 0.9, lr 1e-3).

    `batch_size` is the GLOBAL batch: under DDP each of the `world_size` processes gets
    `batch_size // world_size` examples per step, so one value means the same optimisation on one
    process or many (the paper's 20 / 3 stay 20 / 3).
    """

    epochs: int = 1
    batch_size: int = 20
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    optimizer: OptimizerName = "sgd"
    betas: tuple[float, float] = (0.9, 0.999)
    nesterov: bool = False
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = 0
    pin_memory: bool = True  # honoured only on CUDA (pinning host memory helps only H2D copies)
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    amp: AutoBool = "auto"  # bf16 autocast; "auto" = on CUDA only
    channels_last: AutoBool = "auto"  # "auto" = on CUDA only
    grad_clip: float | None = None  # max global grad L2 norm
    checkpoint_dir: Path | None = None  # None: no checkpoints, no resume
    resume: bool = True
    export_path: Path | None = None  # final weights as a plain state_dict file
    log_every: int = 50
    progress: bool = True  # tqdm bar; also off when stderr is not a TTY and on ranks > 0
    deterministic: bool = False  # torch.use_deterministic_algorithms (process-wide)
    exact_sqrt: bool = False  # Adam/AdamW with an IEEE square root (portable CPU numerics)
    find_unused_parameters: bool = False  # DDP option for nets with branches unused in a step

    def __post_init__(self) -> None:
        # Accept str paths from callers but store Paths (frozen: use object.__setattr__).
        for name in ("checkpoint_dir", "export_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        errors = []
        if self.epochs < 0:
            errors.append(f"epochs must be >= 0, got {self.epochs}")
        if self.batch_size < 1:
            errors.append(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0:
            errors.append(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            errors.append(f"momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            errors.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.optimizer not in OPTIMIZERS:
            errors.append(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if len(self.betas) != 2:
            errors.append(f"betas must have 2 values, got {self.betas}")
        if self.num_workers < 0:
            errors.append(f"num_workers must be >= 0, got {self.num_workers}")
        for name in ("amp", "channels_last"):
            value = getattr(self, name)
            if value != "auto" and not isinstance(value, bool):
                errors.append(f"{name} must be True, False or 'auto', got {value!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            errors.append(f"grad_clip must be None or > 0, got {self.grad_clip}")
        if self.log_every < 1:
            errors.append(f"log_every must be >= 1, got {self.log_every}")
        if self.seed < 0:
            errors.append(f"seed must be >= 0, got {self.seed}")
        if errors:
            raise ValueError("invalid TrainConfig: " + "; ".join(errors))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (paths as str): safe to store in a `weights_only` checkpoint or log as params."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out
