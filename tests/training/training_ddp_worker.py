"""One rank of the DDP test, launched by `python -m torch.distributed.run` (see test_training_ddp).

Trains the toy net with the engine exactly as a pipeline stage would (the engine itself reads
WORLD_SIZE/RANK/LOCAL_RANK and joins a gloo group), then dumps what the test compares.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.distributed as dist
from training_toys import ToyDataset, ce_loss, make_model

from avsal.training import TrainConfig, Trainer, detect_distributed


def ddp_config(out: Path) -> TrainConfig:
    """Shared with the single-process reference in the test (same global batch 8)."""
    return TrainConfig(
        epochs=2,
        batch_size=8,
        lr=0.1,
        seed=3,
        shuffle=True,
        device="cpu",
        checkpoint_dir=out / "ckpt",
        export_path=out / "final.pt",
        progress=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rank = detect_distributed().rank

    steps: list[list[int]] = []
    epoch_calls: list[int] = []

    def loss_fn(model, batch):
        steps.append(batch["idx"].tolist())
        return ce_loss(model, batch)

    model = make_model()
    result = Trainer(
        model=model,
        train_set=ToyDataset(32),
        loss_fn=loss_fn,
        config=ddp_config(args.out),
        eval_fn=lambda m, e: {"rank": float(rank)},
        on_epoch_end=lambda e, r: epoch_calls.append(e),
    ).fit()
    torch.save(model.state_dict(), args.out / f"rank{rank}_state.pt")
    (args.out / f"rank{rank}.json").write_text(
        json.dumps(
            {
                "steps": steps,
                "epoch_calls": epoch_calls,
                "result": result.to_dict(),
                "group_left_open": dist.is_initialized(),
            }
        )
    )


if __name__ == "__main__":
    main()
