"""DDP plumbing for runs launched under `torchrun` (env vars WORLD_SIZE / RANK / LOCAL_RANK).

Without those variables everything degrades to a single process and no process group is made,
so the same code path serves a laptop, one GPU and N GPUs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, shows progress and writes files (no races on shared disks)."""
        return self.rank == 0


def detect_distributed(env: Mapping[str, str] | None = None) -> DistInfo:
    """Read torchrun's env vars; absent or WORLD_SIZE=1 means single process."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return DistInfo()
    try:
        world_size = int(env["WORLD_SIZE"])
        rank = int(env.get("RANK", "0"))
        local_rank = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise ValueError(
            "WORLD_SIZE/RANK/LOCAL_RANK must be integers, got "
            f"{env.get('WORLD_SIZE')!r}/{env.get('RANK')!r}/{env.get('LOCAL_RANK')!r}"
        ) from exc
    if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
        raise ValueError(
            f"inconsistent torchrun env: WORLD_SIZE={world_size} RANK={rank} LOCAL_RANK={local_rank}"
        )
    return DistInfo(world_size=world_size, rank=rank, local_rank=local_rank)


def backend_for(device: torch.device) -> str:
    """NCCL for GPUs, gloo for CPU (the CI path)."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_distributed(info: DistInfo, device: torch.device) -> bool:
    """Join the process group if needed; returns True when this call created it (and so must
    destroy it), False when single-process or the caller already initialised one."""
    if not info.is_distributed or dist.is_initialized():
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend=backend_for(device),
        init_method="env://",
        world_size=info.world_size,
        rank=info.rank,
        device_id=device if device.type == "cuda" else None,
    )
    return True


def all_reduce_sum(values: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over ranks (identity on one process)."""
    if info.is_distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_reduce_mean_dict(
    metrics: Mapping[str, float], info: DistInfo, device: torch.device
) -> dict[str, float]:
    """Average scalar metrics over ranks; every rank must report the same keys."""
    if not info.is_distributed or not metrics:
        return {k: float(v) for k, v in metrics.items()}
    keys = sorted(metrics)
    values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    values /= info.world_size
    return dict(zip(keys, values.tolist()))


def barrier(info: DistInfo) -> None:
    """Wait for all ranks (e.g. until rank 0 has written a checkpoint the others may read)."""
    if info.is_distributed and dist.is_initialized():
        dist.barrier()
