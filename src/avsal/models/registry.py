"""The two parts params.yaml names by string: the backbone (``model.backbone``) and the net kind.

Plain dicts, filled here from direct imports (nothing registers itself at import time, nothing is
imported by computed name). Builders take explicit keyword arguments and never read config
files; the stages read the config (``avsal.stages.common.net_kwargs``) and call ``build_model``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from avsal.models.backbones import Backbone, resnet18, resnext101_32x8d, tiny, vgg16
from avsal.models.classifiers import (
    AudioNet,
    AudioSwitchNet,
    SANet,
    SNet,
    STAClassificationNet,
    STNet,
)
from avsal.models.sta import STAFixationNet

#: ``factory(*, pretrained, weights_path, **options) -> Backbone`` by ``model.backbone`` name
BACKBONES: dict[str, Callable[..., Backbone]] = {
    "tiny": tiny,
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnext101_32x8d": resnext101_32x8d,
}


@dataclass(frozen=True)
class NetKind:
    """How ``build_model`` makes one kind: its class, its head and whether it sees frames.

    ``head``: ``"classes"`` needs ``num_classes``; ``"binary"`` is one logit (``num_classes`` may
    be None or 1 and is not passed on); ``"map"`` predicts a saliency map (no ``num_classes``).
    """

    cls: type[nn.Module]
    head: Literal["classes", "binary", "map"]
    visual: bool = True  # False: no visual backbone (the audio tagger net)


NET_KINDS: dict[str, NetKind] = {
    "s": NetKind(SNet, "classes"),
    "st": NetKind(STNet, "classes"),
    "sa": NetKind(SANet, "classes"),
    "sta_cls": NetKind(STAClassificationNet, "classes"),
    "audio_switch": NetKind(AudioSwitchNet, "binary"),
    "audio": NetKind(AudioNet, "classes", visual=False),
    "sta": NetKind(STAFixationNet, "map"),
}


def _lookup(table: dict[str, Any], what: str, name: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown {what} {name!r}; available: {', '.join(sorted(table))}") from None


def build_backbone(
    name: str, *, pretrained: bool = False, weights_path: str | None = None, **options: Any
) -> Backbone:
    """A backbone by name. ``weights_path`` (a local state_dict) wins over ``pretrained``."""
    return _lookup(BACKBONES, "backbone", name)(
        pretrained=pretrained, weights_path=weights_path, **options
    )


def _head_kwargs(kind: str, head: str, num_classes: int | None) -> dict[str, int]:
    """Check ``num_classes`` against the kind's head; what to pass to the net's constructor."""
    if head == "classes":
        if num_classes is None:
            raise ValueError(f"model kind {kind!r} needs num_classes")
        return {"num_classes": num_classes}
    if head == "binary":
        if num_classes not in (None, 1):
            raise ValueError(
                f"the audio switch has one output (binary), got num_classes={num_classes}"
            )
        return {}
    if num_classes is not None:
        raise ValueError("the STA fixation net predicts a map; it takes no num_classes")
    return {}


def build_model(
    kind: str,
    *,
    backbone: str | None = "vgg16",
    num_classes: int | None = None,
    pretrained: bool = False,
    weights_path: str | None = None,
    backbone_options: dict[str, Any] | None = None,
    **options: Any,
) -> nn.Module:
    """A fresh net of ``kind`` (``NET_KINDS``); ``options`` go to its constructor unchanged.

    ``pretrained``/``weights_path``/``backbone_options`` concern the visual backbone only (the
    ``audio`` kind has none and ignores ``backbone``); loading a whole trained net is the
    caller's ``load_state_dict``. The backbone is built before the rest of the net, so seeded
    initial weights are the same as those of the net's constructor called by hand.
    """
    spec: NetKind = _lookup(NET_KINDS, "model kind", kind)
    head = _head_kwargs(kind, spec.head, num_classes)
    if not spec.visual:
        if pretrained or weights_path is not None or backbone_options:
            raise ValueError(f"the {kind!r} net has no pretrained backbone weights or options")
        return spec.cls(**head, **options)
    if backbone is None:
        raise ValueError(f"model kind {kind!r} needs a backbone name")
    net_backbone = build_backbone(
        backbone, pretrained=pretrained, weights_path=weights_path, **(backbone_options or {})
    )
    return spec.cls(backbone=net_backbone, **head, **options)
