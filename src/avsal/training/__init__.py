"""One training engine for every net (classification nets and the STA fixation net).

Usage::

    from avsal.training import TrainConfig, train

    def loss_fn(model, batch):
        logits = model(frames=batch["frames"], audio=batch["audio"])
        loss = torch.nn.functional.cross_entropy(logits, batch["label"])
        return loss, {"acc": (logits.argmax(1) == batch["label"]).float().mean()}

    cfg = TrainConfig(epochs=10, batch_size=20, checkpoint_dir=Path("artifacts/ckpt/s"))
    result = train(model=net, train_set=ave_train, loss_fn=loss_fn, config=cfg)
"""

from avsal.training.checkpoint import (
    atomic_torch_save,
    load_checkpoint,
    load_state_dict_file,
    save_checkpoint,
    save_state_dict,
)
from avsal.training.config import TrainConfig
from avsal.training.distributed import DistInfo, detect_distributed
from avsal.training.engine import Trainer, TrainResult, build_optimizer, train
from avsal.training.epoch import batch_size_of
from avsal.training.runtime import (
    autocast_context,
    resolve_amp,
    resolve_channels_last,
    resolve_device,
    to_device,
)
from avsal.training.seeding import derive_seed, seed_everything, worker_init_fn

__all__ = [
    "DistInfo",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "atomic_torch_save",
    "autocast_context",
    "batch_size_of",
    "build_optimizer",
    "derive_seed",
    "detect_distributed",
    "load_checkpoint",
    "load_state_dict_file",
    "resolve_amp",
    "resolve_channels_last",
    "resolve_device",
    "save_checkpoint",
    "save_state_dict",
    "seed_everything",
    "to_device",
    "train",
    "worker_init_fn",
]
