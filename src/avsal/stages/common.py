"""What the method's stages share: net construction, training, loss functions, inference, tracking.

Where outputs live is :mod:`avsal.stages.artifacts`; this module and that one are the only
modules under ``avsal.stages`` that stage modules import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from avsal.config import Config, TrainSpec
from avsal.stages.artifacts import Paths, uses_switch
from avsal.training import (
    TrainConfig,
    autocast_context,
    load_state_dict_file,
    resolve_device,
    to_device,
)

__all__ = [
    "build_net",
    "load_net",
    "load_switch",
    "load_sta",
    "train_config",
    "cls_loss",
    "infer",
    "tracker_for",
    "fit",
    "NET_INPUTS",
]

#: which batch keys each net consumes (the rest of the sample dict is targets and bookkeeping)
NET_INPUTS: dict[str, tuple[str, ...]] = {
    "s": ("frame",),
    "st": ("frame", "clip"),
    "sa": ("frame", "audio"),
    "audio": ("audio",),
    "audio_switch": ("frame", "audio"),
    "sta": ("frame", "clip", "audio"),
    "sta_cls": ("frame", "clip", "audio"),
}


def net_kwargs(cfg: Config, kind: str) -> dict[str, Any]:
    """Builder keyword arguments of a net kind (what the model registry needs to rebuild it)."""
    if kind == "audio":
        return {"widths": tuple(cfg.model.audio_widths)}
    kw: dict[str, Any] = {
        "backbone": cfg.model.backbone,
        "pretrained": cfg.model.pretrained,
        "weights_path": cfg.model.weights_path,
    }
    if kind in ("sa", "audio_switch", "sta_cls", "sta"):
        kw["audio_widths"] = tuple(cfg.model.audio_widths)
    if kind == "sta":
        kw["decoder_channels"] = tuple(cfg.sta.decoder_channels)
    return kw


def build_net(
    cfg: Config,
    kind: str,
    *,
    num_classes: int | None,
    switch: nn.Module | None = None,
    seed_offset: int = 0,
) -> nn.Module:
    """A fresh net of ``kind`` through the registry; ``switch`` is attached where Eq. 4/5 use it.

    The initial weights come from a seed derived from (project.seed, kind, seed_offset) in a
    forked RNG, so they do not depend on what the process drew before (nor disturb it).
    """
    import zlib

    from avsal.models import build_model
    from avsal.training import derive_seed

    kw = net_kwargs(cfg, kind)
    if kind in ("sa", "sta_cls", "sta"):
        kw["audio_switch"] = switch
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.project.seed, zlib.crc32(kind.encode()), seed_offset))
        return build_model(kind, num_classes=num_classes, **kw)


def load_net(
    cfg: Config, kind: str, path: Path, *, num_classes: int | None, switch: nn.Module | None = None
) -> nn.Module:
    """Rebuild a net and load its exported state_dict (never a pickled module)."""
    net = build_net(cfg, kind, num_classes=num_classes, switch=switch)
    state = load_state_dict_file(path)
    # a frozen switch attached at training time is part of the state_dict; attach before loading
    missing, unexpected = net.load_state_dict(state, strict=False)
    bad = [k for k in missing if not k.startswith("audio_switch.")] + list(unexpected)
    if bad:
        raise RuntimeError(f"{path}: state_dict does not match a '{kind}' net: {bad[:5]}")
    return net.eval()


def load_switch(cfg: Config) -> nn.Module | None:
    """The trained, frozen audio switch, or None when the switch is disabled (ablation)."""
    if not cfg.audio_switch.enabled:
        return None
    path = Paths(cfg).model("audio_switch", "switch")
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: audio switch not trained; run the audio_switch stage first"
        )
    return load_net(cfg, "audio_switch", path, num_classes=None)


def load_sta(cfg: Config, variant: str = "sta") -> nn.Module:
    """The trained STA net of ``variant`` (with its frozen switch where it has one), in eval mode."""
    switch = load_switch(cfg) if uses_switch(cfg, variant) else None
    return load_net(cfg, "sta", Paths(cfg).model("sta", variant), num_classes=None, switch=switch)


def train_config(
    cfg: Config,
    spec: TrainSpec,
    *,
    checkpoint_dir: Path | None,
    export_path: Path | None,
    seed_offset: int = 0,
    inputs: Any = None,
) -> TrainConfig:
    """The engine's config for one net.

    Checkpoints go to ``checkpoint_dir/<fingerprint of everything that shapes the run>``, so an
    interrupted stage resumes where it stopped (DVC keeps the folder: ``persist``), while a
    changed parameter starts a fresh run instead of resuming an incompatible one.
    """
    if checkpoint_dir is not None:
        from avsal.utils.code import code_fingerprint
        from avsal.utils.hashing import digest

        # the code too: a checkpoint of other code is never resumed
        code = code_fingerprint("avsal.models", "avsal.training", "avsal.data", "avsal.stages")
        checkpoint_dir = Path(checkpoint_dir) / digest(
            [spec, cfg.model, cfg.runtime, cfg.project.seed, seed_offset, inputs, code]
        )
    return TrainConfig(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        lr=spec.lr,
        optimizer=spec.optimizer,
        momentum=spec.momentum,
        weight_decay=spec.weight_decay,
        num_workers=cfg.runtime.num_workers,
        seed=cfg.project.seed + seed_offset,
        device=cfg.runtime.device,
        checkpoint_dir=checkpoint_dir,
        export_path=export_path,
        exact_sqrt=cfg.runtime.cpu_numerics == "portable",  # the same bytes on Intel and AMD
    )


def net_inputs(kind: str, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: batch[k] for k in NET_INPUTS[kind]}


def cls_loss(
    kind: str,
) -> Callable[[nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, Any]]]:
    """Cross-entropy against the (soft, for two-tag frames) category target (Fig. 6 Loss1)."""

    def loss_fn(
        model: nn.Module, batch: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        logits = model(**net_inputs(kind, batch))
        target = batch["target"]
        loss = torch.sum(-target * F.log_softmax(logits.float(), dim=1), dim=1).mean()
        acc = (target.gather(1, logits.argmax(1, keepdim=True)) > 0).float().mean()
        return loss, {"acc": acc.detach()}

    return loss_fn


def infer(
    model: nn.Module,
    dataset: Dataset,
    fn: Callable[[nn.Module, dict[str, torch.Tensor]], dict[str, torch.Tensor]],
    *,
    batch_size: int,
    device: str = "auto",
    num_workers: int = 0,
    desc: str = "infer",
) -> dict[str, np.ndarray]:
    """Run ``fn(model, batch)`` over ``dataset`` in order; concatenate its outputs as numpy."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    channels_last = dev.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=dev.type == "cuda",
    )
    outs: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for batch in tqdm(loader, desc=desc, leave=False, unit="batch", disable=None):
            batch = to_device(batch, dev, channels_last)
            with autocast_context(dev, dev.type == "cuda"):
                res = fn(model, batch)
            for k, v in res.items():
                outs.setdefault(k, []).append(v.detach().float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def fit(
    model: nn.Module, train_set: Dataset, loss_fn: Callable, tcfg: TrainConfig, **kw: Any
) -> Any:
    """Train with the engine; drop the checkpoint folder once the weights are exported.

    A finished run's checkpoint is never resumed later (its inputs may have changed); an
    interrupted run's checkpoint is, by the next attempt with the same fingerprint.
    """
    import shutil

    from avsal.training import train

    result = train(model=model, train_set=train_set, loss_fn=loss_fn, config=tcfg, **kw)
    if (
        tcfg.checkpoint_dir is not None
        and tcfg.export_path is not None
        and Path(tcfg.export_path).is_file()
    ):
        shutil.rmtree(tcfg.checkpoint_dir, ignore_errors=True)
    return result


@contextmanager
def tracker_for(
    cfg: Config,
    stage: str,
    *,
    run_name: str | None = None,
    params: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Iterator[Any]:
    """An MLflow run for a stage; fails at the start when the tracking store is unreachable.

    ``enabled=False`` yields a no-op handle (unit tests of stages).
    """
    from avsal.tracking import Tracker

    tracker = Tracker(
        experiment=cfg.project.name,
        stage=stage,
        enabled=enabled,
        mlflow_db=cfg.paths.mlflow_db,
        mlflow_artifacts=cfg.paths.mlflow_artifacts,
        pipeline_params=cfg.to_dict(),
        data_path=cfg.paths.data,
        artifacts_path=cfg.paths.artifacts,
    )
    with tracker.run(
        run_name or stage, params=params if params is not None else cfg.to_dict()
    ) as handle:
        yield handle
