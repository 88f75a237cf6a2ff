"""One pass over the training data: forward, NaN guard, backward, step, and the epoch's record.

`Trainer` owns everything around an epoch (device, DDP, seeding, checkpoints, resume); this
module owns what happens inside one, so each reads at once.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from avsal.training.config import TrainConfig
from avsal.training.distributed import DistInfo, all_reduce_sum
from avsal.training.runtime import autocast_context, to_device

logger = logging.getLogger(__name__)

LossOutput = tuple[torch.Tensor, Mapping[str, Any]] | torch.Tensor
LossFn = Callable[[nn.Module, Any], LossOutput]
StepCallback = Callable[[int, int, dict[str, float]], None]


def batch_size_of(batch: Any) -> int:
    """Leading dimension of the first tensor in a (nested) batch: the number of samples."""
    if isinstance(batch, torch.Tensor):
        if batch.dim() == 0:
            raise TypeError("cannot count samples in a 0-d tensor batch")
        return int(batch.shape[0])
    values: Iterable[Any] = ()
    if isinstance(batch, Mapping):
        values = batch.values()
    elif isinstance(batch, (list, tuple)):
        values = batch
    for value in values:
        try:
            return batch_size_of(value)
        except TypeError:
            continue
    raise TypeError(f"no tensor found in batch of type {type(batch).__name__}")


def _to_float(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().item())
    return float(value)


def global_loss(loss: torch.Tensor, info: DistInfo, device: torch.device) -> float:
    """The step's loss averaged over ranks: every rank sees the same value, so a NaN on one
    rank stops all of them together instead of leaving the others hung in an all_reduce."""
    value = loss.detach().to(torch.float64)
    if info.is_distributed:
        value = value.reshape(1).to(device).clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value = value / info.world_size
    return float(value.item())


@dataclass(frozen=True)
class EpochOutcome:
    record: dict[str, float]  # epoch, train/loss, train/<metric>, lr, epoch_time_s, frames_per_s
    frames: int  # frames trained in this epoch, all ranks together
    seconds: float
    global_step: int  # optimizer steps done after this epoch


@dataclass(frozen=True)
class EpochLoop:
    """What stays fixed from epoch to epoch of one `fit`."""

    config: TrainConfig
    loss_fn: LossFn
    frames_fn: Callable[[Any], int]
    on_step_end: StepCallback | None
    info: DistInfo
    device: torch.device
    use_amp: bool
    use_cl: bool

    def run(
        self,
        *,
        epoch: int,
        loader: DataLoader,
        model: nn.Module,
        train_model: nn.Module,
        optimizer: torch.optim.Optimizer,
        global_step: int,
        ckpt_path: Path | None,
        last_good_epoch: int,
    ) -> EpochOutcome:
        """One pass over `loader`; `train_model` is `model` or its DDP wrapper."""
        cfg, info, device = self.config, self.info, self.device
        train_model.train()  # DDP.train() also sets the wrapped module
        loss_sum, n_samples, frames = 0.0, 0, 0
        metric_sums: dict[str, float] = {}
        metric_counts: dict[str, int] = {}
        show_bar = cfg.progress and info.is_main and sys.stderr.isatty()
        bar = tqdm(
            total=len(loader),
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not show_bar,
            leave=False,
            dynamic_ncols=True,
        )
        t0 = time.perf_counter()
        try:
            for step, batch in enumerate(loader):
                batch = to_device(batch, device, self.use_cl)
                n = batch_size_of(batch)
                optimizer.zero_grad(set_to_none=True)
                with autocast_context(device, self.use_amp):
                    out = self.loss_fn(train_model, batch)
                loss, metrics = out if isinstance(out, tuple) else (out, {})
                if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                    raise TypeError("loss_fn must return a scalar loss tensor (and a metrics dict)")
                loss_value = global_loss(loss, info, device)
                if not math.isfinite(loss_value):
                    raise FloatingPointError(
                        f"non-finite training loss ({loss_value}) at epoch {epoch} (0-based), "
                        f"step {step} (global step {global_step}); stopped before the optimizer "
                        "step. "
                        + (
                            f"Last good checkpoint {ckpt_path} (after {last_good_epoch} epochs) "
                            "is untouched."
                            if ckpt_path is not None and last_good_epoch > 0
                            else "No checkpoint was written."
                        )
                    )
                loss.backward()
                if cfg.grad_clip is not None:
                    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    if not torch.isfinite(norm):
                        raise FloatingPointError(
                            f"non-finite gradient norm ({float(norm)}) at epoch {epoch} "
                            f"(0-based), step {step}; stopped before the optimizer step"
                        )
                optimizer.step()
                global_step += 1

                loss_sum += loss_value * n
                n_samples += n
                frames += int(self.frames_fn(batch))
                step_metrics = {"train/loss": loss_value}
                for key, value in metrics.items():
                    v = _to_float(value)
                    metric_sums[key] = metric_sums.get(key, 0.0) + v * n
                    metric_counts[key] = metric_counts.get(key, 0) + n
                    step_metrics[f"train/{key}"] = v
                bar.update(1)
                if info.is_main:
                    if step % cfg.log_every == 0:
                        bar.set_postfix(loss=f"{loss_value:.4g}")
                        logger.debug("epoch %d step %d loss %.6g", epoch, step, loss_value)
                    if self.on_step_end is not None:
                        self.on_step_end(epoch, step, step_metrics)
        finally:
            bar.close()
        seconds = time.perf_counter() - t0

        # loss_value is already the all-rank mean of each step (see global_loss); the loss_fn
        # metrics are local, so their weighted sums are reduced here.
        keys = sorted(metric_sums)
        totals = torch.tensor(
            [float(frames)]
            + [metric_sums[k] for k in keys]
            + [float(metric_counts[k]) for k in keys],
            dtype=torch.float64,
            device=device,
        )
        totals = all_reduce_sum(totals, info).tolist()
        frames_all = int(totals[0])
        sums, counts = totals[1 : 1 + len(keys)], totals[1 + len(keys) :]
        record: dict[str, float] = {"epoch": epoch, "train/loss": loss_sum / max(n_samples, 1)}
        record.update({f"train/{k}": s / max(c, 1) for k, s, c in zip(keys, sums, counts)})
        record["lr"] = float(optimizer.param_groups[0]["lr"])
        record["epoch_time_s"] = seconds
        record["frames_per_s"] = frames_all / seconds if seconds > 0 else 0.0
        return EpochOutcome(
            record=record, frames=frames_all, seconds=seconds, global_step=global_step
        )
