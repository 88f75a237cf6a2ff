"""Which STA net to run.

A state_dict file written by the pipeline (``artifacts/models/sta/sta.pt``) holds tensors only,
so the net is built from ``--params`` (default ``params.yaml``, the file that trained it in this
checkout) and must load *strictly*: a net trained with other sizes fails with the keys and
shapes that differ, instead of predicting garbage. Whether it carries the audio switch is read
from its keys.

An MLflow model (``runs:/<id>/model``, ``models:/avsal-sta/<version>``) carries the params it
was trained with and whether it has the switch; it is rebuilt from those, never from the
current ``params.yaml`` (which only says where the tracking store is).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from avsal.config import Config

__all__ = ["LoadedModel", "load_model"]


@dataclass
class LoadedModel:
    net: torch.nn.Module  # eval mode, CPU
    cfg: Config  # the params the net was trained with
    with_switch: bool
    source: str  # what was loaded, for the output record


def _from_state_dict(path: Path, cfg: Config) -> LoadedModel:
    from avsal.stages.common import build_net
    from avsal.training import load_state_dict_file

    state = load_state_dict_file(path)
    with_switch = any(k.startswith("audio_switch.") for k in state)
    switch = build_net(cfg, "audio_switch", num_classes=None) if with_switch else None
    net = build_net(cfg, "sta", num_classes=None, switch=switch)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:400]
        raise ValueError(
            f"{path}: does not fit the STA net of the given params ({first}); pass the "
            "--params it was trained with"
        ) from None
    return LoadedModel(net=net.eval(), cfg=cfg, with_switch=with_switch, source=str(path))


#: what names an MLflow model rather than a file
MLFLOW_SCHEMES = ("runs:/", "models:/")


def _from_mlflow(uri: str, cfg: Config) -> LoadedModel:
    from avsal.config import from_dict
    from avsal.tracking import load_torch_model, tracking_uri

    net, spec = load_torch_model(uri, tracking_uri=tracking_uri(Path.cwd(), db=cfg.paths.mlflow_db))
    kwargs = spec.get("kwargs") or {}
    if "params" not in kwargs or "with_switch" not in kwargs:
        raise ValueError(f"{uri}: not an STA model of avsal (its builder spec has no params)")
    trained = from_dict(Config, kwargs["params"])
    return LoadedModel(
        net=net.eval(), cfg=trained, with_switch=bool(kwargs["with_switch"]), source=uri
    )


def load_model(spec: str, cfg: Config) -> LoadedModel:
    """``spec`` is a state_dict file of the STA net or an MLflow model URI (see the module doc)."""
    if spec.startswith(MLFLOW_SCHEMES):
        return _from_mlflow(spec, cfg)
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model file not found (a state_dict .pt of the STA net)")
    return _from_state_dict(path, cfg)
