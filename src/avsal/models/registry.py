"""The one small registry for every swappable part: backbones, nets, SCAM fusion rules, taggers.

Why one registry: params.yaml names parts by string (``backbone: vgg16``, ``fusion_rule: paper``),
and ablations swap them without code changes. Factories take explicit keyword arguments only and
never read config files; the stage code reads the config and calls ``build_*``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from torch import nn

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> factory map with clear errors on unknown or duplicate names."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REG.register("vgg16")``. A duplicate name is an error (no silent override)."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.what} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.what} {name!r}; available: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


BACKBONES: Registry[Callable[..., nn.Module]] = Registry("backbone")
MODELS: Registry[Callable[..., nn.Module]] = Registry("model kind")
FUSION_RULES: Registry[Callable[..., Any]] = Registry("SCAM fusion rule")
TAGGERS: Registry[Callable[..., Any]] = Registry("audio tagger")


def register_backbone(name: str) -> Callable:
    """Register ``factory(*, pretrained: bool, weights_path: str | None, **options) -> Backbone``."""
    return BACKBONES.register(name)


def register_model(kind: str) -> Callable:
    """Register ``factory(*, backbone: str | None, num_classes: int | None, pretrained, weights_path, **options)``."""
    return MODELS.register(kind)


def register_fusion_rule(name: str) -> Callable:
    """Register ``rule(probs [B,K,C], tags [B]) -> weights [B,K]`` for Eq. 2."""
    return FUSION_RULES.register(name)


def register_tagger(name: str) -> Callable:
    """Register an ``AudioTagger`` factory taking keyword arguments."""
    return TAGGERS.register(name)


def build_backbone(
    name: str, *, pretrained: bool = False, weights_path: str | None = None, **options: Any
) -> nn.Module:
    """Build a registered backbone. ``weights_path`` (a local state_dict) wins over ``pretrained``."""
    return BACKBONES.get(name)(pretrained=pretrained, weights_path=weights_path, **options)


def build_model(
    kind: str,
    *,
    backbone: str | None = "vgg16",
    num_classes: int | None = None,
    pretrained: bool = False,
    weights_path: str | None = None,
    **options: Any,
) -> nn.Module:
    """Build a registered net (``s``, ``st``, ``sa``, ``sta_cls``, ``audio_switch``, ``audio``, ``sta``).

    ``pretrained``/``weights_path`` concern the visual backbone only; loading a whole trained net is
    the caller's ``load_state_dict``.
    """
    return MODELS.get(kind)(
        backbone=backbone,
        num_classes=num_classes,
        pretrained=pretrained,
        weights_path=weights_path,
        **options,
    )


def get_fusion_rule(name: str) -> Callable[..., Any]:
    """Look up an SCAM fusion rule; the rules live in ``avsal.cam.scam`` (imported on demand)."""
    importlib.import_module("avsal.cam.scam")
    return FUSION_RULES.get(name)


def build_tagger(name: str, **kwargs: Any) -> Any:
    """Build a registered ``AudioTagger`` (``trained`` or ``predictions_file``)."""
    return TAGGERS.get(name)(**kwargs)


def list_backbones() -> list[str]:
    return BACKBONES.names()


def list_models() -> list[str]:
    return MODELS.names()


def list_fusion_rules() -> list[str]:
    importlib.import_module("avsal.cam.scam")
    return FUSION_RULES.names()


def list_taggers() -> list[str]:
    return TAGGERS.names()
