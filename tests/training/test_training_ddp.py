"""2-process gloo DDP on CPU under torchrun == 1 process with the same global batch.

Why the runs are comparable: both use DistributedSampler with the same (seed, epoch)
permutation P. Rank r takes P[r::2], so its step k holds P[8k + r + 2j] (j < 4); the two ranks
together hold P[8k : 8k + 8], exactly the single process's step k. Each rank's loss is the mean
over its 4 examples and DDP averages gradients over ranks, so the update is the mean over the
same 8 examples; only float summation order differs (hence a 1e-5 tolerance).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from training_ddp_worker import ddp_config
from training_toys import ToyDataset, ce_loss, clone_state, make_model, max_abs_diff, states_equal

from avsal.training import Trainer, load_checkpoint, load_state_dict_file

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_two_process_gloo_ddp_matches_single_process(tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # don't depend on the hostname resolving
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(HERE / "training_ddp_worker.py"),
            "--out",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]

    # single-process reference, same config and global batch
    single_steps: list[list[int]] = []

    def loss_fn(model, batch):
        single_steps.append(batch["idx"].tolist())
        return ce_loss(model, batch)

    ref_dir = tmp_path / "single"
    model = make_model()
    single = Trainer(
        model=model,
        train_set=ToyDataset(32),
        loss_fn=loss_fn,
        config=ddp_config(ref_dir),
    ).fit()

    # the ranks split each global batch of the single run between them, 4 + 4
    assert len(single_steps) == 2 * 4
    for k, batch in enumerate(single_steps):
        r0, r1 = ranks[0]["steps"][k], ranks[1]["steps"][k]
        assert len(r0) == len(r1) == 4
        assert sorted(r0 + r1) == sorted(batch)

    # same weights (within float reassociation), identical replicas, and training did happen
    ddp_weights = load_state_dict_file(out / "final.pt")
    assert max_abs_diff(ddp_weights, clone_state(model)) < 1e-5
    assert max_abs_diff(ddp_weights, clone_state(make_model())) > 1e-3
    assert states_equal(
        torch.load(out / "rank0_state.pt", weights_only=True),
        torch.load(out / "rank1_state.pt", weights_only=True),
    )

    # metrics are all-rank means: the train loss matches the single run, eval is averaged
    for rank in ranks:
        hist = rank["result"]["history"]
        assert [h["train/loss"] for h in hist] == pytest.approx(
            [h["train/loss"] for h in single.history], abs=1e-5
        )
        assert [h["eval/rank"] for h in hist] == [0.5, 0.5]
        assert rank["result"]["world_size"] == 2
        assert rank["result"]["frames"] == 2 * 32  # frames counted over both ranks
        assert rank["group_left_open"] is False

    # callbacks and checkpoints on rank 0 only
    assert ranks[0]["epoch_calls"] == [0, 1] and ranks[1]["epoch_calls"] == []
    ckpt = load_checkpoint(out / "ckpt" / "last.pt")
    assert ckpt["epochs_done"] == 2 and ckpt["world_size"] == 2
    assert sorted(os.listdir(out / "ckpt")) == ["last.pt"]
