"""The one training engine used for every net (classification nets with CE, STA with BCE).

It knows nothing about the model kind: the caller gives a model, a map-style dataset and a
`loss_fn(model, batch) -> (loss, metrics)`; everything else (device, bf16 autocast,
channels_last, DataLoader workers, seeding, DDP, checkpoints, exact resume) lives here once;
the inside of an epoch (NaN guard, progress, throughput) is `training.epoch`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from avsal.training.checkpoint import (
    LAST_CHECKPOINT,
    load_checkpoint,
    save_checkpoint,
    save_state_dict,
)
from avsal.training.config import TRAJECTORY_FIELDS, TrainConfig
from avsal.training.distributed import (
    DistInfo,
    all_reduce_mean_dict,
    barrier,
    detect_distributed,
    init_distributed,
)
from avsal.training.epoch import EpochLoop, LossFn, StepCallback, batch_size_of
from avsal.training.exact_adam import ExactSqrtAdam
from avsal.training.runtime import resolve_amp, resolve_channels_last, resolve_device
from avsal.training.seeding import (
    TAG_EPOCH,
    TAG_LOADER,
    TAG_SAMPLER,
    EpochSeededDataset,
    EpochTaggedSampler,
    capture_rng_state,
    derive_seed,
    restore_rng_state,
    seed_everything,
    worker_init_fn,
)

logger = logging.getLogger(__name__)

EvalFn = Callable[[nn.Module, int], Mapping[str, float]]
EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class TrainResult:
    """What a `fit` returns; `history` includes epochs restored from a checkpoint."""

    history: list[dict[str, float]]  # one record per epoch: epoch, train/*, eval/*, lr, ...
    final_metrics: dict[str, float]  # the last epoch's record ({} if no epoch ever ran)
    wall_time_s: float  # whole fit() call, setup and checkpointing included
    frames_per_s: float  # training throughput of this call, all ranks together
    frames: int  # frames (see `frames_fn`) trained in this call, all ranks together
    start_epoch: int  # 0, or the number of epochs restored from a checkpoint
    epochs_completed: int  # epochs done in total after this call
    world_size: int
    device: str
    checkpoint_path: str | None
    final_weights_path: str | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def build_optimizer(params: Iterable[nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (the paper's) or Adam/AdamW, over trainable parameters only;
    ``config.exact_sqrt`` takes :class:`ExactSqrtAdam` for Adam/AdamW (portable numerics)."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            weight_decay=config.weight_decay,
            nesterov=config.nesterov,
        )
    if config.optimizer in ("adam", "adamw") and config.exact_sqrt:
        # torch's CPU sqrt is MKL's rsqrtps-based kernel: other bits on Intel and AMD
        return ExactSqrtAdam(
            params,
            lr=config.lr,
            betas=config.betas,
            weight_decay=config.weight_decay,
            decoupled=config.optimizer == "adamw",
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(
            params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
    if config.optimizer == "adamw":
        return torch.optim.AdamW(
            params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
    raise ValueError(f"unknown optimizer {config.optimizer!r}")


class Trainer:
    """Trains `model` in place on `train_set` with `loss_fn`; see `fit`.

    * `loss_fn(model, batch) -> (loss, metrics)`: `model` may be DDP-wrapped (call it, don't
      read its attributes); `loss` is a scalar tensor averaged over the local batch (DDP then
      averages gradients over ranks, giving the global-batch mean); metric values are floats or
      0-d tensors, averaged over the epoch weighted by batch size.
    * `eval_fn(model, epoch) -> metrics`: called on every rank each epoch with the unwrapped
      model in eval mode under `torch.no_grad()`; its metrics are averaged over ranks.
    * `on_epoch_end(epoch, record)` / `on_step_end(epoch, step, metrics)`: rank 0 only (logging
      to MLflow, say). `on_epoch_end` runs after that epoch's checkpoint is on disk.
    * `frames_fn(batch) -> int`: frames in a batch for the throughput figure (default: samples).
    """

    def __init__(
        self,
        *,
        model: nn.Module,
        train_set: Dataset,
        loss_fn: LossFn,
        config: TrainConfig,
        eval_fn: EvalFn | None = None,
        on_epoch_end: EpochCallback | None = None,
        on_step_end: StepCallback | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        frames_fn: Callable[[Any], int] | None = None,
        dist_info: DistInfo | None = None,
    ) -> None:
        self.model = model
        self.train_set = train_set
        self.loss_fn = loss_fn
        self.config = config
        self.eval_fn = eval_fn
        self.on_epoch_end = on_epoch_end
        self.on_step_end = on_step_end
        self.collate_fn = collate_fn
        self.frames_fn = frames_fn or batch_size_of
        self.dist_info = dist_info

    # ------------------------------------------------------------------ public
    def fit(self) -> TrainResult:
        """Run (or resume) training up to `config.epochs` epochs and return its metrics."""
        cfg = self.config
        info = self.dist_info or detect_distributed()
        device = resolve_device(cfg.device, local_rank=info.local_rank)
        if cfg.batch_size % info.world_size:
            raise ValueError(
                f"global batch_size {cfg.batch_size} is not divisible by world size "
                f"{info.world_size}; each rank needs the same number of examples per step"
            )
        created_group = init_distributed(info, device)
        try:
            return self._fit(info, device)
        finally:
            if created_group and dist.is_initialized():
                dist.destroy_process_group()

    # ----------------------------------------------------------------- private
    def _fit(self, info: DistInfo, device: torch.device) -> TrainResult:
        cfg = self.config
        t_start = time.perf_counter()
        use_amp = resolve_amp(cfg.amp, device)
        use_cl = resolve_channels_last(cfg.channels_last, device)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        seed_everything(derive_seed(cfg.seed, TAG_EPOCH, 0, info.rank))

        model = self.model.to(device)
        if use_cl:
            model = model.to(memory_format=torch.channels_last)
        optimizer = build_optimizer(model.parameters(), cfg)

        ckpt_path = cfg.checkpoint_dir / LAST_CHECKPOINT if cfg.checkpoint_dir else None
        start_epoch, global_step, history = 0, 0, []
        if ckpt_path is not None and cfg.resume and ckpt_path.exists():
            start_epoch, global_step, history = self._restore(ckpt_path, model, optimizer)
            if info.is_main:
                logger.info("resumed from %s after epoch %d", ckpt_path, start_epoch)

        train_model: nn.Module = model
        if info.is_distributed:
            train_model = DistributedDataParallel(
                model,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=cfg.find_unused_parameters,
            )

        sampler_seed = derive_seed(cfg.seed, TAG_SAMPLER)
        sampler = EpochTaggedSampler(
            DistributedSampler(
                self.train_set,
                num_replicas=info.world_size,
                rank=info.rank,
                shuffle=cfg.shuffle,
                seed=sampler_seed,
                drop_last=cfg.drop_last,
            )
        )
        loader_gen = torch.Generator()
        loader = DataLoader(
            EpochSeededDataset(self.train_set, seed=cfg.seed),
            batch_size=cfg.batch_size // info.world_size,
            sampler=sampler,
            num_workers=cfg.num_workers,
            pin_memory=cfg.pin_memory and device.type == "cuda",
            drop_last=cfg.drop_last,
            collate_fn=self.collate_fn,
            worker_init_fn=worker_init_fn,
            generator=loader_gen,
            persistent_workers=cfg.num_workers > 0,
        )
        if start_epoch < cfg.epochs and len(loader) == 0:
            raise ValueError(
                f"no training batch: {len(self.train_set)} examples, batch_size "  # type: ignore[arg-type]
                f"{cfg.batch_size}, drop_last={cfg.drop_last}"
            )

        epoch_loop = EpochLoop(
            config=cfg,
            loss_fn=self.loss_fn,
            frames_fn=self.frames_fn,
            on_step_end=self.on_step_end,
            info=info,
            device=device,
            use_amp=use_amp,
            use_cl=use_cl,
        )
        frames_total, train_time = 0, 0.0
        try:
            for epoch in range(start_epoch, cfg.epochs):
                sampler.set_epoch(epoch)
                # Worker base seeds (drawn from this generator at iterator creation) and all global
                # RNG streams of the epoch depend on (seed, epoch, rank) only: resume-exact.
                loader_gen.manual_seed(derive_seed(cfg.seed, TAG_LOADER, epoch, info.rank))
                seed_everything(derive_seed(cfg.seed, TAG_EPOCH, epoch, info.rank))
                outcome = epoch_loop.run(
                    epoch=epoch,
                    loader=loader,
                    model=model,
                    train_model=train_model,
                    optimizer=optimizer,
                    global_step=global_step,
                    ckpt_path=ckpt_path,
                    last_good_epoch=len(history),
                )
                record, global_step = outcome.record, outcome.global_step
                frames_total += outcome.frames
                train_time += outcome.seconds
                if self.eval_fn is not None:
                    train_model.eval()
                    with torch.no_grad():
                        eval_metrics = self.eval_fn(model, epoch)
                    train_model.train()
                    eval_metrics = all_reduce_mean_dict(eval_metrics, info, device)
                    record.update({f"eval/{k}": v for k, v in eval_metrics.items()})
                history.append(record)

                if ckpt_path is not None and info.is_main:
                    save_checkpoint(
                        ckpt_path,
                        {
                            "epochs_done": epoch + 1,
                            "global_step": global_step,
                            "model": model.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "rng": capture_rng_state(),
                            "sampler": {
                                "seed": sampler_seed,
                                "next_epoch": epoch + 1,
                                # what DistributedSampler will shuffle with next epoch, for the record
                                "generator_state": torch.Generator()
                                .manual_seed(sampler_seed + epoch + 1)
                                .get_state(),
                            },
                            "config": cfg.to_dict(),
                            "history": history,
                            "world_size": info.world_size,
                        },
                    )
                barrier(info)  # nobody races ahead of (or reads) a checkpoint still being written
                if info.is_main:
                    logger.info(
                        "epoch %d/%d: %s",
                        epoch + 1,
                        cfg.epochs,
                        ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch"),
                    )
                    if self.on_epoch_end is not None:
                        self.on_epoch_end(epoch, dict(record))
        finally:
            _stop_workers(loader)  # don't leave persistent workers behind on errors

        final_path = None
        if cfg.export_path is not None:
            if info.is_main:
                save_state_dict(cfg.export_path, model.state_dict())
            barrier(info)
            final_path = str(cfg.export_path)

        return TrainResult(
            history=[dict(r) for r in history],
            final_metrics=dict(history[-1]) if history else {},
            wall_time_s=time.perf_counter() - t_start,
            frames_per_s=frames_total / train_time if train_time > 0 else 0.0,
            frames=frames_total,
            start_epoch=start_epoch,
            epochs_completed=len(history),
            world_size=info.world_size,
            device=str(device),
            checkpoint_path=str(ckpt_path) if ckpt_path is not None else None,
            final_weights_path=final_path,
        )

    def _restore(
        self, path: Path, model: nn.Module, optimizer: torch.optim.Optimizer
    ) -> tuple[int, int, list[dict[str, float]]]:
        """Load model/optimizer/RNG state from a checkpoint written by an earlier `fit`."""
        ckpt = load_checkpoint(path, map_location="cpu")
        saved = ckpt["config"]
        current = self.config.to_dict()
        changed = [
            f"{k}: {saved.get(k)!r} -> {current[k]!r}"
            for k in TRAJECTORY_FIELDS
            if _normalise(saved.get(k)) != _normalise(current[k])
        ]
        if changed:
            raise ValueError(
                f"cannot resume from {path}: it was written with different settings "
                f"({'; '.join(changed)}). Use another checkpoint_dir or resume=False."
            )
        try:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ValueError(
                f"checkpoint {path} does not match this model/optimizer: {exc}"
            ) from exc
        restore_rng_state(ckpt["rng"])
        return int(ckpt["epochs_done"]), int(ckpt["global_step"]), list(ckpt["history"])


def _stop_workers(loader: DataLoader) -> None:
    """Shut persistent workers down now: a raised error's traceback keeps the loader alive, and
    a long-lived process (an Optuna study, say) would otherwise collect idle worker processes."""
    iterator = getattr(loader, "_iterator", None)
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()
    loader._iterator = None  # type: ignore[attr-defined]


def _normalise(value: Any) -> Any:
    """Compare tuples and lists alike (configs round-trip through plain containers)."""
    return tuple(value) if isinstance(value, list) else value


def train(
    *,
    model: nn.Module,
    train_set: Dataset,
    loss_fn: LossFn,
    config: TrainConfig,
    eval_fn: EvalFn | None = None,
    on_epoch_end: EpochCallback | None = None,
    on_step_end: StepCallback | None = None,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    frames_fn: Callable[[Any], int] | None = None,
) -> TrainResult:
    """Functional shortcut for `Trainer(...).fit()`."""
    return Trainer(
        model=model,
        train_set=train_set,
        loss_fn=loss_fn,
        config=config,
        eval_fn=eval_fn,
        on_epoch_end=on_epoch_end,
        on_step_end=on_step_end,
        collate_fn=collate_fn,
        frames_fn=frames_fn,
    ).fit()
